#!/usr/bin/env bash
# Throwaway PostgreSQL 15 server on 127.0.0.1 for tests and local development.
#
#   scripts/postgres.sh start    initdb a fresh cluster, start it, print the env
#   scripts/postgres.sh stop     stop the server (by pid) and delete its data
#   scripts/postgres.sh restart  stop the server if it runs (fast shutdown) and start it again on
#                                its data and port (a maintenance restart, a failover)
#   scripts/postgres.sh status   print the env and exit 0 if running, else exit 1
#
# State lives in ${PARLEY_RUN_DIR:-<repo>/.run}:
#   postgres/pid       postmaster pid
#   postgres/datadir   path of the cluster's data directory
#   postgres/server.log
#   postgres.env       PARLEY_TEST_DATABASE_URL=... and PARLEY_TEST_PG_PORT=...
#
# Installs Debian's postgresql-15 when its binaries are missing (needs root).
# Override the binary directory with PARLEY_PG_BIN.
set -euo pipefail

SCRIPT_NAME="postgres.sh"
USAGE="{start|restart|stop|status}"
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${PARLEY_RUN_DIR:-$REPO_ROOT/.run}"
PG_RUN="$RUN_DIR/postgres"
PID_FILE="$PG_RUN/pid"
DATADIR_FILE="$PG_RUN/datadir"
LOG_FILE="$PG_RUN/server.log"
ENV_FILE="$RUN_DIR/postgres.env"
DB_NAME="parley"
DB_USER="parley"
PG_VERSION="15"


# --- binaries -----------------------------------------------------------------

pg_bin_ok() {
  local dir="$1"
  [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ] \
    && [ -x "$dir/psql" ] \
    && "$dir/pg_ctl" --version 2>/dev/null | grep -Eq "[[:space:]]${PG_VERSION}(\.|[[:space:]]|$)"
}

find_pg_bin() {
  local cand
  if [ -n "${PARLEY_PG_BIN:-}" ]; then
    pg_bin_ok "$PARLEY_PG_BIN" || die "PARLEY_PG_BIN=$PARLEY_PG_BIN has no PostgreSQL $PG_VERSION binaries"
    printf '%s\n' "$PARLEY_PG_BIN"
    return 0
  fi
  if pg_bin_ok "/usr/lib/postgresql/$PG_VERSION/bin"; then
    printf '%s\n' "/usr/lib/postgresql/$PG_VERSION/bin"
    return 0
  fi
  if cand="$(command -v pg_ctl 2>/dev/null)"; then
    cand="$(dirname "$(readlink -f "$cand")")"
    if pg_bin_ok "$cand"; then
      printf '%s\n' "$cand"
      return 0
    fi
  fi
  return 1
}

install_pg() {
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 || die "PostgreSQL $PG_VERSION not found and not root: install postgresql-$PG_VERSION"
    sudo=(sudo)
  fi
  log "installing postgresql-$PG_VERSION with apt-get"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_VERSION" >&2
}

# --- running as an unprivileged user -----------------------------------------

# initdb and postgres refuse to run as root, so as root everything that touches
# the cluster runs as "postgres" (or "nobody"); otherwise as the current user.
PG_OS_USER=""
pick_os_user() {
  if ! is_root; then
    PG_OS_USER="$(id -un)"
  elif id -u postgres >/dev/null 2>&1; then
    PG_OS_USER="postgres"
  elif id -u nobody >/dev/null 2>&1; then
    PG_OS_USER="nobody"
  else
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    PG_OS_USER="postgres"
  fi
}

as_pg() {
  if ! is_root; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$PG_OS_USER" -- "$@"
  elif command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid="$PG_OS_USER" --regid="$(id -g "$PG_OS_USER")" --init-groups -- "$@"
  else
    su -s /bin/sh "$PG_OS_USER" -c "$(printf '%q ' "$@")"
  fi
}

give_to_pg() {
  if is_root; then
    chown -R "$PG_OS_USER:$(id -g "$PG_OS_USER")" "$@"
  fi
}

# --- helpers ------------------------------------------------------------------

read_pid() {
  local pid=""
  if [ -s "$PID_FILE" ]; then
    pid="$(head -n 1 "$PID_FILE" | tr -cd '0-9')"
  elif [ -s "$DATADIR_FILE" ] && [ -s "$(cat "$DATADIR_FILE")/postmaster.pid" ]; then
    pid="$(head -n 1 "$(cat "$DATADIR_FILE")/postmaster.pid" | tr -cd '0-9')"
  fi
  printf '%s\n' "$pid"
}

# True when $1 is a live postmaster of our data directory (guards against a
# recycled pid belonging to some unrelated process).
pid_is_ours() {
  local pid="$1" datadir=""
  [ -n "$pid" ] || return 1
  alive "$pid" || return 1
  [ -s "$DATADIR_FILE" ] && datadir="$(cat "$DATADIR_FILE")"
  if [ -r "/proc/$pid/cmdline" ] && [ -n "$datadir" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$datadir" || return 1
  fi
  return 0
}

# --- commands -----------------------------------------------------------------

cmd_stop() {
  local pid datadir="" children child i
  pid="$(read_pid)"
  [ -s "$DATADIR_FILE" ] && datadir="$(cat "$DATADIR_FILE")"
  if pid_is_ours "$pid"; then
    log "stopping pid $pid"
    children="$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -s ' \n' ' ' || true)"
    kill -INT "$pid" 2>/dev/null || true       # fast shutdown
    for ((i = 0; i < 150; i++)); do
      gone "$pid" && break
      sleep 0.2
    done
    if ! gone "$pid"; then
      log "pid $pid still alive after 30s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for child in $children; do
        kill -KILL "$child" 2>/dev/null || true
      done
      sleep 0.5
    fi
  elif [ -n "$pid" ]; then
    log "pid $pid is not running; cleaning up"
  else
    log "not running"
  fi
  if [ -n "$datadir" ] && [ -d "$datadir" ]; then
    rm -rf -- "$datadir"
    case "$(dirname "$datadir")" in
      /tmp/parley-pg.*) rm -rf -- "$(dirname "$datadir")" ;;
    esac
  fi
  if [ -L "$PG_RUN/sock" ]; then
    rm -rf -- "$(readlink "$PG_RUN/sock")"
  fi
  rm -rf -- "$PG_RUN/sock"
  rm -f -- "$PID_FILE" "$DATADIR_FILE" "$ENV_FILE"
}

cmd_start() {
  local pid pg_bin datadir sockdir port attempt started=0 url
  report_running "already running" && return 0
  if [ -e "$PID_FILE" ] || [ -e "$DATADIR_FILE" ]; then
    cmd_stop                                    # stale or half-started server
  fi

  if ! pg_bin="$(find_pg_bin)"; then
    install_pg
    pg_bin="$(find_pg_bin)" || die "PostgreSQL $PG_VERSION binaries still not found after install"
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required"
  pick_os_user

  mkdir -p "$PG_RUN"
  : >"$LOG_FILE"
  give_to_pg "$LOG_FILE"

  # A checkout under a private home (e.g. /root) is not traversable by the server's user:
  # then the cluster, its socket and its log live in a private directory under /tmp.
  local home="$PG_RUN"
  give_to_pg "$PG_RUN"
  if ! as_pg test -w "$PG_RUN"; then
    home="$(mktemp -d /tmp/parley-pg.XXXXXX)"
    chmod 755 "$home"
    LOG_FILE="$home/server.log"
    : >"$LOG_FILE"
    give_to_pg "$LOG_FILE"
    ln -sfn "$LOG_FILE" "$PG_RUN/server.log"
  fi
  datadir="$(mktemp -d "$home/data.XXXXXX")"
  printf '%s\n' "$datadir" >"$DATADIR_FILE"
  give_to_pg "$datadir"
  chmod 700 "$datadir"
  as_pg test -w "$datadir" || die "user $PG_OS_USER cannot write $datadir"

  # A unix socket path must fit in ~107 bytes; fall back to /tmp for deep trees.
  sockdir="$home/sock"
  if [ "${#sockdir}" -gt 80 ]; then
    sockdir="$(mktemp -d /tmp/parley-pg-sock.XXXXXX)"
  fi
  mkdir -p "$sockdir"
  [ "$sockdir" = "$PG_RUN/sock" ] || ln -sfn "$sockdir" "$PG_RUN/sock"
  give_to_pg "$sockdir"

  log "initdb into $datadir (as $PG_OS_USER)"
  as_pg "$pg_bin/initdb" -D "$datadir" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >>"$LOG_FILE" 2>&1 \
    || { tail -n 40 "$LOG_FILE" >&2; die "initdb failed"; }

  cat >>"$datadir/postgresql.conf" <<EOF

# --- parley throwaway test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
EOF
  cat >"$datadir/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
  give_to_pg "$datadir"

  for attempt in 1 2 3; do
    port="$(free_ports 1)"
    log "starting on 127.0.0.1:$port"
    if as_pg "$pg_bin/pg_ctl" -D "$datadir" -l "$LOG_FILE" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      started=1
      break
    fi
    log "start attempt $attempt failed"
    tail -n 20 "$LOG_FILE" >&2 || true
  done
  [ "$started" -eq 1 ] || die "could not start postgres"

  await_ready "$pg_bin" "$port" "$datadir" \
    || { tail -n 40 "$LOG_FILE" >&2; cmd_stop; die "server does not accept connections"; }
  pid="$(read_pid)"

  if ! "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres >/dev/null <<EOF
CREATE ROLE $DB_USER LOGIN SUPERUSER;
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
  then
    cmd_stop
    die "could not create role/database $DB_NAME"
  fi

  url="postgresql+asyncpg://$DB_USER@127.0.0.1:$port/$DB_NAME"
  printf 'PARLEY_TEST_DATABASE_URL=%s\nPARLEY_TEST_PG_PORT=%s\n' "$url" "$port" >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  log "ready (pid $pid, port $port); env in $ENV_FILE"
  print_env
}

# Waits until the server on port $2 accepts connections; records the postmaster pid of data dir $3.
await_ready() {
  local pg_bin="$1" port="$2" datadir="$3" pid i
  pid="$(head -n 1 "$datadir/postmaster.pid" | tr -cd '0-9')"
  printf '%s\n' "$pid" >"$PID_FILE"
  for ((i = 0; i < 150; i++)); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && return 0
    sleep 0.2
  done
  return 1
}

cmd_restart() {
  local pid pg_bin datadir port log_file
  [ "$#" -eq 0 ] || die "restart takes no options"
  if [ ! -s "$DATADIR_FILE" ] || [ ! -s "$ENV_FILE" ]; then
    die "no earlier server to restart in $PG_RUN (its data is gone): \`$0 start\`"
  fi
  datadir="$(cat "$DATADIR_FILE")"
  [ -f "$datadir/PG_VERSION" ] || die "no cluster in $datadir: \`$0 start\`"
  port="$(sed -n 's/^PARLEY_TEST_PG_PORT=//p' "$ENV_FILE")"
  pg_bin="$(find_pg_bin)" || die "PostgreSQL $PG_VERSION binaries not found"
  pick_os_user
  log_file="$(readlink -f "$LOG_FILE")"         # under /tmp when the checkout is private
  pid="$(read_pid)"
  if pid_is_ours "$pid"; then
    log "stopping pid $pid (fast shutdown)"
    as_pg "$pg_bin/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null \
      || die "could not stop pid $pid"
  fi
  log "starting on 127.0.0.1:$port (data in $datadir)"
  as_pg "$pg_bin/pg_ctl" -D "$datadir" -l "$log_file" -o "-p $port" -w -t 60 start >/dev/null 2>&1 \
    || { tail -n 40 "$log_file" >&2; die "could not start postgres"; }
  await_ready "$pg_bin" "$port" "$datadir" \
    || { tail -n 40 "$log_file" >&2; die "server does not accept connections"; }
  log "ready (pid $(read_pid), port $port); env in $ENV_FILE"
  print_env
}

dispatch "$@"
