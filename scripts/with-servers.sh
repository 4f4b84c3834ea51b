#!/usr/bin/env bash
# Run a command with throwaway PostgreSQL and Kafka servers, then stop them (by pid) whatever
# the command's outcome. The servers' addresses reach the command as PARLEY_TEST_DATABASE_URL and
# PARLEY_TEST_KAFKA_BOOTSTRAP. With PARLEY_TEST_PROFILE=embedded no server is started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${PARLEY_TEST_PROFILE:-all}" != "embedded" ]; then
  trap 'scripts/kafka.sh stop >/dev/null 2>&1 || true; scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
  run_dir="${PARLEY_RUN_DIR:-.run}"
  scripts/postgres.sh start >/dev/null
  scripts/kafka.sh start --fresh >/dev/null  # throwaway: an interrupted run's data goes
  set -a
  # shellcheck disable=SC1091
  . "$run_dir/postgres.env"
  # shellcheck disable=SC1091
  . "$run_dir/kafka.env"
  set +a
fi
"$@"
