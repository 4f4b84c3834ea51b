# shellcheck shell=bash
# Helpers shared by scripts/postgres.sh and scripts/kafka.sh (sourced, not run). The sourcing
# script sets SCRIPT_NAME, ENV_FILE and USAGE first, defines read_pid and pid_is_ours, and a
# cmd_<name> function per command beside cmd_status (start, stop, restart).

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints N distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# Field $2 of /proc/$1/stat counted after the command name (1 the state, 7 the flags).
stat_field() {
  sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"
}

# True when process $1 has let go of all it held (ports, files): not there, or a zombie that is
# its own last thread. A killed JVM's main thread turns zombie while its other threads, which hold
# its sockets, still exit.
gone() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(stat_field "$pid" 1)" = "Z" ] || return 1
  [ "$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -le 1 ]
}

# True when process $1 has begun to exit (PF_EXITING, 0x4 in its flags), killed or not, whether
# or not it has let go of its ports yet.
exiting() {
  local flags
  flags="$(stat_field "$1" 7)"
  [ -n "$flags" ] && (((flags & 4) != 0))
}

# Running: there, and not on its way out.
alive() {
  ! gone "$1" && ! exiting "$1"
}

print_env() {
  if [ -s "$ENV_FILE" ]; then
    cat "$ENV_FILE"
  fi
}

# True when the server runs (by the sourcing script's read_pid and pid_is_ours): logs "$1 (pid N)"
# and prints the env.
report_running() {
  local pid
  pid="$(read_pid)"
  if pid_is_ours "$pid" && [ -s "$ENV_FILE" ]; then
    log "$1 (pid $pid)"
    print_env
    return 0
  fi
  return 1
}

cmd_status() {
  report_running "running" && return 0
  log "not running"
  return 1
}

# Runs cmd_<command> with the remaining arguments; USAGE (set by the sourcing script) lists them.
dispatch() {
  local command="${1:-}"
  if [ -n "$command" ] && declare -F "cmd_$command" >/dev/null; then
    shift
    "cmd_$command" "$@"
  else
    echo "usage: $0 $USAGE" >&2
    exit 2
  fi
}
