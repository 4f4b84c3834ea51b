"""Whether the broker is taking events, as the producer last saw it.

A cheap signal for callers that would rather refuse at once than wait out a publish timeout per
request (ingress answers a webhook 503 while the broker is down). "Down" starts at the first
publish that failed or timed out, or a probe that failed; it ends at the first publish or probe
that succeeded. While down, `KafkaBus` probes the broker's metadata in the background, since
nothing else would try a publish. No I/O here: the transitions are plain and tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Health:
    available: bool = True
    reason: str = ""  # what turned it down, for the one log line at the change
    changes: int = 0

    def failed(self, reason: str) -> bool:
        """A publish or probe failed; True when that turned the bus down (log it once)."""
        if not self.available:
            return False
        self.available, self.reason, self.changes = False, reason, self.changes + 1
        return True

    def succeeded(self) -> bool:
        """A publish or probe succeeded; True when that brought the bus back."""
        if self.available:
            return False
        self.available, self.reason, self.changes = True, "", self.changes + 1
        return True
