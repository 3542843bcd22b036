#!/usr/bin/env bash
# Makes sure the two database servers of this machine run and are ready for change capture:
#   PostgreSQL 15: wal_level=logical, enough replication slots and WAL senders (Debezium pgoutput)
#   MariaDB 10.11: binary log on, binlog_format=ROW, binlog_row_image=FULL, a server_id
# Starts a server that is down; restarts one only when a setting that needs a restart changes.
# Idempotent: a second run changes nothing and says so. Must run as root (CI, dev container).
#
# Env (defaults in brackets):
#   PG_HOST [127.0.0.1] PG_PORT [5432] PG_USER [postgres] PG_VERSION [15] PG_CLUSTER [main]
#   PG_MIN_SLOTS [20]           floor for max_replication_slots and max_wal_senders
#   PG_MAX_SLOT_WAL_KEEP_SIZE [2GB]  cap on WAL a forgotten slot may pin (applied only while unset, -1)
#   MYSQL_HOST [127.0.0.1] MYSQL_PORT [3306] MYSQL_USER [root] MYSQL_PASSWORD []
#   MARIADB_CONF_DIR [/etc/mysql/mariadb.conf.d]  MARIADB_MAIN_CNF [/etc/mysql/my.cnf]
#   MARIADB_SERVER_ID [1]
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_MIN_SLOTS=${PG_MIN_SLOTS:-20}
PG_MAX_SLOT_WAL_KEEP_SIZE=${PG_MAX_SLOT_WAL_KEEP_SIZE:-2GB}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
MARIADB_CONF_DIR=${MARIADB_CONF_DIR:-/etc/mysql/mariadb.conf.d}
MARIADB_MAIN_CNF=${MARIADB_MAIN_CNF:-/etc/mysql/my.cnf}
MARIADB_SERVER_ID=${MARIADB_SERVER_ID:-1}
MARIADB_CNF="$MARIADB_CONF_DIR/99-lifestream-binlog.cnf"

changes=0
say() { printf '[ensure-databases] %s\n' "$*"; }
changed() { changes=$((changes + 1)); say "CHANGED: $*"; }
die() { printf '[ensure-databases] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for <seconds> <description> <command...>
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not answer within ${secs}s"
    sleep 0.5
  done
}

# ---------------------------------------------------------------- PostgreSQL
pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER"; }
psql_q() { psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
pg_ctl_cluster() { pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" "$@"; }

if ! pg_up; then
  say "PostgreSQL is down: starting cluster $PG_VERSION/$PG_CLUSTER"
  pg_ctl_cluster start
  wait_for 60 "PostgreSQL" pg_up
  changed "started PostgreSQL"
fi

pg_restart=0
wal_level=$(psql_q "SHOW wal_level")
if [[ $wal_level != logical ]]; then
  psql_q "ALTER SYSTEM SET wal_level = logical"
  changed "PostgreSQL wal_level $wal_level -> logical (needs restart)"
  pg_restart=1
fi
for name in max_replication_slots max_wal_senders; do
  value=$(psql_q "SHOW $name")
  if ((value < PG_MIN_SLOTS)); then
    psql_q "ALTER SYSTEM SET $name = $PG_MIN_SLOTS"
    changed "PostgreSQL $name $value -> $PG_MIN_SLOTS (needs restart)"
    pg_restart=1
  fi
done
keep=$(psql_q "SHOW max_slot_wal_keep_size")
if [[ $keep == -1 ]]; then
  psql_q "ALTER SYSTEM SET max_slot_wal_keep_size = '$PG_MAX_SLOT_WAL_KEEP_SIZE'"
  psql_q "SELECT pg_reload_conf()" >/dev/null
  changed "PostgreSQL max_slot_wal_keep_size -1 -> $PG_MAX_SLOT_WAL_KEEP_SIZE (a leaked test slot can't fill the disk; reload only)"
fi
if ((pg_restart)); then
  say "restarting PostgreSQL $PG_VERSION/$PG_CLUSTER (open connections are closed)"
  pg_ctl_cluster restart
  wait_for 60 "PostgreSQL" pg_up
  [[ $(psql_q "SHOW wal_level") == logical ]] || die "PostgreSQL still has wal_level=$(psql_q 'SHOW wal_level') after restart"
fi
say "PostgreSQL ok: wal_level=$(psql_q 'SHOW wal_level') max_replication_slots=$(psql_q 'SHOW max_replication_slots') max_wal_senders=$(psql_q 'SHOW max_wal_senders') max_slot_wal_keep_size=$(psql_q 'SHOW max_slot_wal_keep_size')"

# ---------------------------------------------------------------- MariaDB
my_args=(-h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP)
[[ -n $MYSQL_PASSWORD ]] && my_args+=("-p$MYSQL_PASSWORD")
my_up() { mariadb-admin "${my_args[@]}" --connect-timeout=2 --silent ping >/dev/null 2>&1; }
my_q() { mariadb "${my_args[@]}" -N -B -e "$1"; }
my_start() { start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }
my_running() { pgrep -x mariadbd >/dev/null; }

if ! my_up; then
  say "MariaDB is down: starting /usr/sbin/mariadbd"
  my_start
  wait_for 60 "MariaDB" my_up
  changed "started MariaDB"
fi

wanted_cnf="# Written by lbcore-lifestream scripts/ci/ensure-databases.sh: row-based binary log for
# Debezium (see the project's connectors/README.md). Remove this file and restart to undo.
[mariadbd]
log_bin                    = mariadb-bin
binlog_format              = ROW
binlog_row_image           = FULL
server_id                  = $MARIADB_SERVER_ID
binlog_expire_logs_seconds = 86400
"
my_restart=0
if [[ ! -f $MARIADB_CNF ]] || [[ "$(cat "$MARIADB_CNF")" != "${wanted_cnf%$'\n'}" ]]; then
  mkdir -p "$MARIADB_CONF_DIR"
  printf '%s' "$wanted_cnf" >"$MARIADB_CNF"
  changed "wrote $MARIADB_CNF"
fi
# The option files read by mariadbd must include the folder (Debian's stock my.cnf does; a
# stripped one may not).
if ! grep -Eqs "^[[:space:]]*!includedir[[:space:]]+${MARIADB_CONF_DIR%/}/?[[:space:]]*$" "$MARIADB_MAIN_CNF"; then
  printf '\n!includedir %s/\n' "${MARIADB_CONF_DIR%/}" >>"$MARIADB_MAIN_CNF"
  changed "appended '!includedir ${MARIADB_CONF_DIR%/}/' to $MARIADB_MAIN_CNF"
fi

my_settings() {
  read -r log_bin binlog_format row_image server_id < <(my_q "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id") ||
    die "cannot read the binlog settings of MariaDB at $MYSQL_HOST:$MYSQL_PORT as $MYSQL_USER"
}
my_settings
if [[ $log_bin != 1 || $binlog_format != ROW || $row_image != FULL || $server_id != "$MARIADB_SERVER_ID" ]]; then
  say "MariaDB runs with log_bin=$log_bin binlog_format=$binlog_format binlog_row_image=$row_image server_id=$server_id: restart needed"
  my_restart=1
fi
if ((my_restart)); then
  say "restarting MariaDB (graceful shutdown, open connections are closed)"
  mariadb-admin "${my_args[@]}" shutdown || true
  deadline=$((SECONDS + 60))
  while my_running; do
    ((SECONDS < deadline)) || die "mariadbd did not stop within 60s"
    sleep 0.5
  done
  my_start
  wait_for 60 "MariaDB" my_up
  my_settings
  [[ $log_bin == 1 && $binlog_format == ROW && $row_image == FULL ]] ||
    die "MariaDB still runs with log_bin=$log_bin binlog_format=$binlog_format binlog_row_image=$row_image after restart: is $MARIADB_CNF read? (mariadbd --print-defaults)"
  changed "restarted MariaDB"
fi
say "MariaDB ok: log_bin=$log_bin binlog_format=$binlog_format binlog_row_image=$row_image server_id=$server_id"

if ((changes)); then say "done: $changes change(s)"; else say "done: nothing to change"; fi
