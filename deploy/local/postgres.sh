#!/usr/bin/env bash
# PostgreSQL from Debian's packages, as a private non-root cluster on 127.0.0.1.
#
#   deploy/local/postgres.sh up      install (apt) if missing, initdb once, start, wait, create `earshot`
#   deploy/local/postgres.sh down    stop (data is kept; `rm -rf $EARSHOT_INFRA_DIR/postgres` to reset)
#   deploy/local/postgres.sh status
#   deploy/local/postgres.sh url     print the SQLAlchemy URL (postgresql+asyncpg://...)
#
# The cluster runs as the invoking user, or as the `postgres` system user (created by the
# Debian package) when invoked as root: PostgreSQL refuses to run as root.
source "$(dirname "$0")/common.sh"

DIR="$EARSHOT_INFRA_DIR/postgres"
DATA="$DIR/data"
PASSFILE="$DIR/earshot.password"

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] || { apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
  echo "$bin"
}

RUN_AS=()
if [ "$(id -u)" = 0 ]; then RUN_AS=(runuser -u postgres --); fi

as_owner() { "${RUN_AS[@]}" "$@"; }

ready() { as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

up() {
  BIN=$(pg_bin)
  if [ "$(id -u)" = 0 ] && ! getent passwd postgres >/dev/null; then apt_install postgresql; fi
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
  if ready; then log "already running on 127.0.0.1:$PG_PORT"; else
    if [ ! -f "$DATA/PG_VERSION" ]; then
      log "initdb $DATA"
      [ -f "$PASSFILE" ] || { secret 24 >"$PASSFILE"; chmod 600 "$PASSFILE"; }
      if [ "$(id -u)" = 0 ]; then chown postgres: "$PASSFILE"; fi
      as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
      {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$DIR'"
        echo "max_connections = 200"
        echo "shared_buffers = 64MB"
        echo "fsync = on"
      } | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    fi
    log "starting PostgreSQL ($BIN)"
    # 9>&-: the server must not inherit the script's lock (see with_lock).
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 start >/dev/null 9>&- \
      || { tail -20 "$DIR/postgres.log" >&2; exit 1; }
    wait_for 60 "PostgreSQL on 127.0.0.1:$PG_PORT" ready || exit 1
  fi
  local pw; pw=$(cat "$PASSFILE")
  as_owner "$BIN/psql" -q -h "$DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT 'CREATE ROLE earshot LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'earshot')\gexec
ALTER ROLE earshot WITH LOGIN CREATEDB PASSWORD '$pw';
SELECT 'CREATE DATABASE earshot OWNER earshot' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'earshot')\gexec
SQL
  log "PostgreSQL listening on 127.0.0.1:$PG_PORT (database earshot, user earshot)"
}

down() {
  BIN=$(pg_bin)
  if [ -f "$DATA/postmaster.pid" ]; then
    log "stopping PostgreSQL"
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || true
  fi
}

case "${1:-up}" in
  up) with_lock postgres up ;;
  down) with_lock postgres down ;;
  url) echo "postgresql+asyncpg://earshot:$(cat "$PASSFILE")@127.0.0.1:$PG_PORT/earshot" ;;
  status) BIN=$(pg_bin); if ready; then echo "postgres: up 127.0.0.1:$PG_PORT"; else echo "postgres: down"; exit 3; fi ;;
  *) die "usage: $0 up|down|status|url" ;;
esac
