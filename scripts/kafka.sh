#!/usr/bin/env bash
# Throwaway single-node Apache Kafka 3.9 broker (KRaft, no ZooKeeper) on
# 127.0.0.1 for tests and local development.
#
#   scripts/kafka.sh start [--fresh]  format fresh storage on free ports, start the broker, print
#                                      the env; refuses while an earlier broker's data holds topics
#                                      (--fresh deletes them)
#   scripts/kafka.sh restart          start the broker again on its data, ports and cluster id
#                                      (after a crash, kill -9 included, or `stop --keep`), print the env
#   scripts/kafka.sh stop [--keep]    stop the broker (by pid) and delete its data; --keep keeps the
#                                      data, configuration and ports for `restart`
#   scripts/kafka.sh status           print the env and exit 0 if running, else exit 1
#
# Broker jars come from Maven Central via infra/kafka/pom.xml and are cached in
# ${PARLEY_KAFKA_LIBS:-$HOME/.cache/parley/kafka-3.9.2/libs}.
# State lives in ${PARLEY_RUN_DIR:-<repo>/.run}:
#   kafka/pid, kafka/server.properties, kafka/log4j.properties,
#   kafka/data/ (log.dirs, with meta.properties: the cluster id), kafka/kafka.out (stdout, appended
#   to on restart), kafka/server.log (the previous run's is kept as server.log.1 on restart)
#   kafka.env  PARLEY_TEST_KAFKA_BOOTSTRAP=127.0.0.1:<port>, and a SASL/PLAIN listener
#              PARLEY_TEST_KAFKA_SASL_BOOTSTRAP=127.0.0.1:<port> with its user and password
set -euo pipefail

SCRIPT_NAME="kafka.sh"
USAGE="{start [--fresh]|restart|stop [--keep]|status}"
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${PARLEY_RUN_DIR:-$REPO_ROOT/.run}"
KAFKA_VERSION="3.9.2"
LIBS="${PARLEY_KAFKA_LIBS:-${HOME:-/tmp}/.cache/parley/kafka-$KAFKA_VERSION/libs}"
LIBS_MARKER="$LIBS/.complete"
POM="$REPO_ROOT/infra/kafka/pom.xml"
K_RUN="$RUN_DIR/kafka"
PID_FILE="$K_RUN/pid"
DATA_DIR="$K_RUN/data"
PROPS="$K_RUN/server.properties"
LOG4J="$K_RUN/log4j.properties"
OUT_FILE="$K_RUN/kafka.out"
ENV_FILE="$RUN_DIR/kafka.env"
START_TIMEOUT="${PARLEY_KAFKA_START_TIMEOUT:-90}"
# The SASL listener's one user: a throwaway broker on 127.0.0.1, so a fixed test credential.
SASL_USER="parley"
SASL_PASSWORD="parley-test-secret"
STOP_TIMEOUT=20


apt_install() {
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 || die "missing $*; install it (apt-get install $*)"
    sudo=(sudo)
  fi
  log "installing $* with apt-get"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

java_cmd() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java
  fi
}

ensure_tools() {
  command -v python3 >/dev/null 2>&1 || die "python3 is required"
  java_cmd >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  JAVA="$(java_cmd)" || die "java not found"
}

ensure_libs() {
  if [ -f "$LIBS_MARKER" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  [ -f "$POM" ] || die "missing $POM"
  log "fetching Kafka $KAFKA_VERSION jars into $LIBS"
  rm -rf -- "$LIBS"                              # redo any half-finished copy
  mkdir -p "$LIBS"
  # mvn -q still prints stray terminal escapes; show its output only on failure.
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$LIBS.mvn.log" 2>&1; then
    cat "$LIBS.mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (log: $LIBS.mvn.log)"
  fi
  rm -f -- "$LIBS.mvn.log"
  [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing after copy"
  touch "$LIBS_MARKER"
}

# 22-char base64url of 16 random bytes, never starting with '-'.
cluster_id() {
  python3 -c '
import base64, os
while True:
    cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not cid.startswith("-"):
        print(cid)
        break
'
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

read_pid() {
  if [ -s "$PID_FILE" ]; then
    head -n 1 "$PID_FILE" | tr -cd '0-9'
  fi
}

# True when $1 is a live broker started from our server.properties (guards
# against a recycled pid belonging to some unrelated process).
pid_is_ours() {
  local pid="$1"
  [ -n "$pid" ] || return 1
  alive "$pid" || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$PROPS" || return 1
  fi
  return 0
}

log_tail() {
  log "last lines of $OUT_FILE:"
  tail -n "${1:-60}" "$OUT_FILE" >&2 2>/dev/null || true
}

# Stops the broker by its pid (SIGTERM, then SIGKILL after STOP_TIMEOUT); leaves its files.
stop_broker() {
  local pid i
  pid="$(read_pid)"
  if pid_is_ours "$pid"; then
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
      gone "$pid" && break
      sleep 0.2
    done
    if ! gone "$pid"; then
      log "pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 25; i++)); do
        gone "$pid" && break
        sleep 0.2
      done
    fi
  elif [ -n "$pid" ]; then
    log "pid $pid is not running; cleaning up"
  else
    log "not running"
  fi
  rm -f -- "$PID_FILE"
}

delete_state() {
  # Keep kafka.out / server.log for post-mortems; they are truncated on start.
  rm -rf -- "$DATA_DIR"
  rm -f -- "$PID_FILE" "$PROPS" "$LOG4J" "$ENV_FILE"
}

cmd_stop() {
  case "${1:-}" in
    "")
      stop_broker
      delete_state
      ;;
    --keep)
      stop_broker
      log "data, configuration and ports kept in $K_RUN; \`$0 restart\` starts it again"
      ;;
    *) die "stop: unknown option $1 (only --keep)" ;;
  esac
}

# True when the data directory holds topic partitions (directories <topic>-<partition> beside the
# KRaft metadata log): an earlier broker's data that `restart` would bring back.
holds_topics() {
  local dir
  for dir in "$DATA_DIR"/*-[0-9]*; do
    [ -d "$dir" ] || continue
    case "${dir##*/}" in
      __cluster_metadata-*) ;;
      *) return 0 ;;
    esac
  done
  return 1
}

# The port of listener $1 (PLAINTEXT, SASL_PLAINTEXT, CONTROLLER) in server.properties.
listener_port() {
  local entry entries
  IFS=',' read -ra entries <<<"$(sed -n 's/^listeners=//p' "$PROPS")"
  for entry in "${entries[@]}"; do
    case "$entry" in
      "$1://127.0.0.1:"*)
        printf '%s\n' "${entry##*:}"
        return 0
        ;;
    esac
  done
  return 1
}

write_config() {
  local port="$1" cport="$2" sport="$3"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh: single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# Clients that authenticate (the services' PARLEY_KAFKA_SECURITY_PROTOCOL=SASL_*), as managed
# clusters require: SASL/PLAIN with one user.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_USER" password="$SASL_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";
log.dirs=$DATA_DIR
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=16777216
# Deleted topics (every test drops its own) give their files back within a second.
file.delete.delay.ms=1000
EOF
  cat >"$LOG4J" <<EOF
# Generated by scripts/kafka.sh.
log4j.rootLogger=INFO, stdout, file

log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$K_RUN/server.log
log4j.appender.file.Append=false
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel\$=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
}

# Starts the broker on $PROPS and waits until it serves 127.0.0.1:$1 (SASL listener $2), then
# writes the env file. On failure runs $3 (what to clean up) and exits non-zero.
launch() {
  local port="$1" sport="$2" on_failure="$3" pid i started=0 from
  # Readiness is read from what this run appends to kafka.out, not an earlier run's lines.
  from="$(($(wc -c <"$OUT_FILE") + 1))"
  rm -f -- "$PID_FILE"                          # a crashed broker's, which the wait below must not read
  # The inner shell records its own pid and then execs java, so the pid file
  # holds the broker's pid whether or not setsid had to fork.
  # shellcheck disable=SC2016  # expanded by the inner shell on purpose
  nohup setsid bash -c 'echo "$$" >"$1"; shift; exec "$@"' kafka-launch "$PID_FILE" \
    "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$LOG4J" \
    -Dkafka.logs.dir="$K_RUN" -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    >>"$OUT_FILE" 2>&1 </dev/null &

  for ((i = 0; i < 50; i++)); do
    [ -s "$PID_FILE" ] && break
    sleep 0.1
  done
  pid="$(read_pid)"
  [ -n "$pid" ] || { log_tail; die "broker did not record its pid"; }

  for ((i = 0; i < START_TIMEOUT * 5; i++)); do
    if ! alive "$pid"; then
      log_tail
      rm -f -- "$PID_FILE"
      die "broker exited during startup"
    fi
    if port_open "$port" \
      && grep -qE 'Kafka Server started|started \(kafka\.server\.KafkaRaftServer\)' \
        < <(tail -c "+$from" "$OUT_FILE"); then
      started=1
      break
    fi
    sleep 0.2
  done
  if [ "$started" -ne 1 ]; then
    log_tail
    "$on_failure"
    die "broker not ready within ${START_TIMEOUT}s"
  fi

  {
    printf 'PARLEY_TEST_KAFKA_BOOTSTRAP=127.0.0.1:%s\n' "$port"
    printf 'PARLEY_TEST_KAFKA_SASL_BOOTSTRAP=127.0.0.1:%s\n' "$sport"
    printf 'PARLEY_TEST_KAFKA_SASL_USERNAME=%s\n' "$SASL_USER"
    printf 'PARLEY_TEST_KAFKA_SASL_PASSWORD=%s\n' "$SASL_PASSWORD"
  } >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  log "ready (pid $pid, port $port); env in $ENV_FILE"
  print_env
}

cmd_start() {
  local fresh=0 port cport sport cid
  case "${1:-}" in
    "") ;;
    --fresh) fresh=1 ;;
    *) die "start: unknown option $1 (only --fresh)" ;;
  esac
  report_running "already running" && return 0
  if [ "$fresh" -eq 0 ] && holds_topics; then
    die "$DATA_DIR holds an earlier broker's topics: \`$0 restart\` starts it again on that data" \
      "and its ports; \`$0 start --fresh\` deletes them and starts a new one"
  fi
  if [ -e "$PID_FILE" ] || [ -e "$DATA_DIR" ] || [ -e "$PROPS" ]; then
    stop_broker                                 # stale state or half-started broker
    delete_state
  fi

  ensure_tools
  ensure_libs

  mkdir -p "$K_RUN"
  read -r port cport sport <<<"$(free_ports 3)"
  write_config "$port" "$cport" "$sport"

  cid="$(cluster_id)"
  : >"$OUT_FILE"
  log "formatting storage (cluster id $cid)"
  "$JAVA" -Xmx256m -Dlog4j.configuration="file:$LOG4J" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$cid" -c "$PROPS" >>"$OUT_FILE" 2>&1 \
    || { log_tail 40; die "storage format failed"; }

  log "starting broker on 127.0.0.1:$port (controller $cport)"
  launch "$port" "$sport" cmd_stop
}

cmd_restart() {
  local port sport cid old i
  [ "$#" -eq 0 ] || die "restart takes no options"
  report_running "already running" && return 0
  if [ ! -s "$PROPS" ] || [ ! -s "$DATA_DIR/meta.properties" ]; then
    die "no earlier broker to restart in $K_RUN (its data and configuration are gone): \`$0 start\`"
  fi
  port="$(listener_port PLAINTEXT)" || die "no PLAINTEXT listener in $PROPS"
  sport="$(listener_port SASL_PLAINTEXT)" || die "no SASL_PLAINTEXT listener in $PROPS"
  # A broker just killed holds its ports until its last thread has exited.
  old="$(read_pid)"
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    if [ -z "$old" ] || gone "$old" || ! exiting "$old"; then
      break
    fi
    sleep 0.2
  done
  if port_open "$port"; then
    die "127.0.0.1:$port, the broker's port, is taken by another process"
  fi
  ensure_tools
  ensure_libs
  [ ! -f "$K_RUN/server.log" ] || mv -f -- "$K_RUN/server.log" "$K_RUN/server.log.1"
  cid="$(sed -n 's/^cluster\.id=//p' "$DATA_DIR/meta.properties")"
  log "restarting broker on 127.0.0.1:$port (cluster id $cid, data in $DATA_DIR)"
  printf '[kafka.sh] restart at %s\n' "$(date -u +%FT%TZ)" >>"$OUT_FILE"
  launch "$port" "$sport" stop_broker
}

dispatch "$@"
