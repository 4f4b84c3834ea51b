#!/usr/bin/env bash
# The whole test suite on both profiles (memory+SQLite, Kafka+PostgreSQL); extra args go to pytest.
# PARLEY_TEST_PROFILE=embedded runs only the first, without starting any server. The console's
# browser tests need Chromium: Debian's is installed when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/chromium.sh ensure >/dev/null
exec scripts/with-servers.sh .venv/bin/python -m pytest --durations=30 "$@"
