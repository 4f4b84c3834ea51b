"""A tenant's sending rules and the send-time checks, in their fixed order.

1. consent: an opted-out recipient gets nothing but `compliance` messages (the opt-out
   confirmation, HELP answers);
2. quiet hours (marketing only): outside the recipient's local window the message is deferred to
   the next opening, never dropped; where the area code names a state with rules
   (`state_rules.py`), its hours and its limit per 24 hours apply too (`state_limits.py`) and the
   message waits for the first moment every one of them allows;
3. frequency caps (marketing only): over the tenant's cap the message is suppressed;
4. the sending number's rate limit, which needs the shared bucket and is applied by the caller
   (`rate_limit.py`) once these three pass.

Replies, transactional and compliance messages answer the subscriber and are never held. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator, model_validator

from libs.common.inputs import Input
from services.sender import caps, quiet_hours, state_limits, state_rules

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class SendingRules(Input):
    """`PUT /v1/messages/settings`; every field has a default, so `{}` restores them all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quiet_hours: bool = Field(True, description="Hold marketing messages outside local sending hours.")
    quiet_hours_start: str = Field("08:00", pattern=HHMM, description="Local time the window opens.")
    quiet_hours_end: str = Field("21:00", pattern=HHMM, description="Local time the window closes.")
    fallback_timezone: str | None = Field(
        None, description="IANA zone for numbers whose zone is unknown; unset = such numbers are not held.")
    max_marketing_per_day: int | None = Field(None, ge=1, le=100, description="Rolling 24 hours.")
    max_marketing_per_week: int | None = Field(None, ge=1, le=500, description="Rolling 7 days.")
    state_rules: bool = Field(True, description="Apply the sending hours and limits of the recipient's "
                              "state (by area code) on top of these, also when quiet_hours is off.")
    replace_lookalikes: bool = Field(True, description="Curly quotes, long dashes… → GSM-7 forms.")

    @field_validator("fallback_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _window_opens_before_it_closes(self) -> SendingRules:
        self.window  # noqa: B018 - raises when the window is empty or crosses midnight
        return self

    @property
    def window(self) -> quiet_hours.Window:
        return quiet_hours.Window(time.fromisoformat(self.quiet_hours_start),
                                  time.fromisoformat(self.quiet_hours_end))

    @property
    def frequency_caps(self) -> caps.Caps:
        return caps.Caps(self.max_marketing_per_day, self.max_marketing_per_week)


DEFAULT_RULES = SendingRules()


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "suppress", "defer"]
    rule: str | None = None
    reason: str | None = None
    until: datetime | None = None


SEND = Verdict("send")


def state_rule(phone: str, now: datetime, rules: SendingRules,
               table: state_rules.Table | None = None) -> state_rules.StateRule | None:
    """The state row in force for `phone` today, when the tenant applies state rules."""
    if not rules.state_rules:
        return None
    table = table or state_rules.shipped()
    return table.rule(table.state_of(phone), now.date())


def precheck(kind: str, phone: str, now: datetime, rules: SendingRules, opted_out: str | None,
             sent_last_day: int = 0, sent_last_week: int = 0, recent: Sequence[datetime] = (),
             table: state_rules.Table | None = None) -> Verdict:
    """Checks 1–3. `opted_out` is why the recipient may not be messaged (None if they may);
    `recent`, when marketing messages went to the number in the last 24 hours (read when its
    state limits them); `table`, the state rules (the shipped table by default)."""
    if opted_out and kind != "compliance":
        return Verdict("suppress", "consent", opted_out)
    if kind != "marketing":
        return SEND
    table = table or state_rules.shipped()
    window = rules.window if rules.quiet_hours else None
    hold = None
    if (state := state_rule(phone, now, rules, table)) is not None:
        hold = state_limits.check(phone, now, state, table, window, rules.fallback_timezone, recent)
    elif window is not None:
        hold = quiet_hours.check(phone, now, window, rules.fallback_timezone)
    if hold is not None:
        return Verdict("defer", hold.rule, hold.reason, hold.until)
    over = caps.over_cap(sent_last_day, sent_last_week, rules.frequency_caps)
    if over:
        return Verdict("suppress", "frequency_cap", over)
    return SEND
