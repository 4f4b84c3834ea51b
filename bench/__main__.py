"""Run every benchmark in turn (`make bench`). Each prints its own figures."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

SKIP = {"common", "loadgen", "replies", "stack", "__main__"}  # helpers, not benchmarks


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name not in SKIP)
    only = sys.argv[1:]
    failed = 0
    for name in names:
        if only and name not in only:
            continue
        print(f"== bench.{name}", flush=True)
        # Each benchmark in its own interpreter: no shared event loop, metrics or caches.
        failed |= subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0
    return failed


if __name__ == "__main__":
    importlib.invalidate_caches()
    sys.exit(main())
