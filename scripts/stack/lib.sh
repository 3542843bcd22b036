# shellcheck shell=bash
# Shared settings and helpers of scripts/stack/*.sh (sourced, not run).
#
# Env (defaults in brackets):
#   LIFESTREAM_STACK_DIR [<repo>/.stack]   jars, data, logs, pid files (git-ignored)
#   KAFKA_HOST [127.0.0.1]  KAFKA_PORT [9092]  KAFKA_CONTROLLER_PORT [9093]
#   CONNECT_PORT [8083]     CONNECT_GROUP_ID [lifestream-connect]
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx512m]     CONNECT_HEAP_OPTS [-Xms256m -Xmx768m]
#   STACK_START_TIMEOUT [120] seconds for each of broker and Connect
#   KAFKA_VERSION  override the Kafka version of stack/pom.xml (fetch.sh)

STACK_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$STACK_SCRIPTS/../.." && pwd)
STACK_DIR=${LIFESTREAM_STACK_DIR:-$REPO_ROOT/.stack}
LIBS_DIR=$STACK_DIR/kafka-libs
PLUGINS_DIR=$STACK_DIR/plugins
CONF_DIR=$STACK_DIR/config
DATA_DIR=$STACK_DIR/data/kafka
LOG_DIR=$STACK_DIR/logs
RUN_DIR=$STACK_DIR/run
# connector passwords, one properties file per connector, read by Connect's FileConfigProvider
# (capture.connect.secretDir of a service using this stack)
SECRETS_DIR=$STACK_DIR/secrets

KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
CONNECT_PORT=${CONNECT_PORT:-8083}
CONNECT_GROUP_ID=${CONNECT_GROUP_ID:-lifestream-connect}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
CONNECT_HEAP_OPTS=${CONNECT_HEAP_OPTS:--Xms256m -Xmx768m}
STACK_START_TIMEOUT=${STACK_START_TIMEOUT:-120}
CONNECT_URL="http://$KAFKA_HOST:$CONNECT_PORT"

# The connector classes start.sh waits for in GET /connector-plugins.
DEBEZIUM_CLASSES=(
  io.debezium.connector.postgresql.PostgresConnector
  io.debezium.connector.mysql.MySqlConnector
  io.debezium.connector.mariadb.MariaDbConnector
)

say() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# pid_of <broker|connect>: prints the pid if the process of that pid file is alive.
pid_of() {
  local f=$RUN_DIR/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid of an unrelated process is not ours: check the command line.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dlifestream.stack=$1" || return 1
  printf '%s\n' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# java_cmd <role> <heap opts> <main class> [args...]: the JVM command line of a stack process.
java_cmd() {
  local role=$1 heap=$2; shift 2
  # shellcheck disable=SC2206
  local heap_opts=($heap)
  printf '%s\0' java -server "${heap_opts[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dlifestream.stack=$role" \
    "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.properties" \
    "-Dkafka.logs.dir=$LOG_DIR" \
    -cp "$LIBS_DIR/*" "$@"
}

# spawn <role> <heap opts> <main class> [args...]: runs it in the background, detached from
# this shell, output to $LOG_DIR/<role>.log (the previous log kept as <role>.log.1).
spawn() {
  local role=$1 log=$LOG_DIR/$1.log
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  if [[ -f $log ]]; then mv -f "$log" "$log.1"; fi
  local -a cmd
  mapfile -d '' cmd < <(java_cmd "$@")
  setsid nohup "${cmd[@]}" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$RUN_DIR/$role.pid"
  # Until the forked shell has exec'd java, /proc/<pid>/cmdline is this script's and pid_of would
  # call the process "not ours" (a fresh clone's first start failed that way on a loaded machine):
  # wait for the exec, or for the process to die.
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dlifestream.stack=$role" && return 0
    sleep 0.05
  done
  warn "$role: pid $pid did not become the java process within 10s"
}

# fail_with_log <role> <message>: error with the tail of the process log.
fail_with_log() {
  local log=$LOG_DIR/$1.log
  printf '[stack] ERROR: %s\n' "$2" >&2
  if [[ -f $log ]]; then
    printf '[stack] last lines of %s:\n' "$log" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
  fi
  exit 1
}

# stop_role <role> [grace seconds]: SIGTERM, wait, then SIGKILL.
stop_role() {
  local role=$1 grace=${2:-30} pid
  if ! pid=$(pid_of "$role"); then
    say "$role: not running"
    rm -f "$RUN_DIR/$role.pid"
    return 0
  fi
  say "$role: stopping pid $pid (SIGTERM, up to ${grace}s)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      warn "$role: still alive after ${grace}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.3
  done
  rm -f "$RUN_DIR/$role.pid"
  say "$role: stopped"
}

connect_plugins() { curl -fsS --max-time 3 "$CONNECT_URL/connector-plugins" 2>/dev/null; }

connect_ready() {
  local plugins cls
  plugins=$(connect_plugins) || return 1
  for cls in "${DEBEZIUM_CLASSES[@]}"; do
    [[ $plugins == *"\"$cls\""* ]] || return 1
  done
}

broker_ready() {
  port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
  grep -q 'Kafka Server started' "$LOG_DIR/broker.log" 2>/dev/null
}

# restart_role <broker|connect> [--kill] [--down SECONDS]: stops one process (SIGTERM with grace,
# or SIGKILL like a crash), optionally stays down, then start.sh brings the stack back and waits.
restart_role() {
  local role=$1 mode=term down=0 pid grace
  shift
  while (($#)); do
    case $1 in
      --kill) mode=kill ;;
      --down) down=${2:?--down needs seconds}; shift ;;
      *) die "usage: restart-$role.sh [--kill] [--down SECONDS]" ;;
    esac
    shift
  done
  if [[ $mode == kill ]] && pid=$(pid_of "$role"); then
    say "$role: SIGKILL pid $pid"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$RUN_DIR/$role.pid"
  else
    [[ $role == broker ]] && grace=${KAFKA_STOP_GRACE:-45} || grace=${CONNECT_STOP_GRACE:-30}
    stop_role "$role" "$grace"
  fi
  ((down > 0)) && { say "$role: staying down for ${down}s"; sleep "$down"; }
  exec "$STACK_SCRIPTS/start.sh"
}
