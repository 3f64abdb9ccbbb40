#!/usr/bin/env bash
# A throw-away PostgreSQL 15 for the tests, from Debian's postgresql-15 package.
#   tests/services/postgres.sh start DIR   initdb in DIR, start on a free loopback port, write DIR/url
#   tests/services/postgres.sh stop DIR    stop it and remove DIR
# PostgreSQL refuses to run as root: as root, DIR is handed to the unprivileged `postgres` account that
# the package creates, and initdb and the server run as it. Durability is off (fsync, full-page writes):
# the data is made again on every run. Tests create their own database from it (support/pg_database).
# PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync, full-page writes, synchronous commit): what a
# benchmark of durable ingest must run against (bench/postgres_bench.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
action=${1:?start or stop}
dir=$(realpath -m "${2:?a directory}")
bin=/usr/lib/postgresql/15/bin

as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

# The server's files live in $home: DIR itself, or, as root, a folder of their own under /tmp that only the
# postgres account can enter (DIR may sit below a folder it cannot reach, such as a mktemp -d clone).
home_of() { if [[ -f "$dir/home" ]]; then cat "$dir/home"; else echo "$dir"; fi; }

stop() {
  local home
  home=$(home_of)
  if [[ -f "$home/data/postmaster.pid" ]]; then
    (cd / && "${as_owner[@]}" "$bin/pg_ctl" -D "$home/data" -m immediate -w -t 30 stop > /dev/null 2>&1) || true
  fi
  [[ "$home" != "$dir" ]] && rm -rf "$home"
  rm -rf "$dir"
}

start() {
  [[ -x "$bin/postgres" ]] || { echo "postgres.sh: $bin/postgres not found (run scripts/setup --test)" >&2; exit 2; }
  stop  # whatever an interrupted run left
  mkdir -p "$dir"
  home=$dir
  if [[ $(id -u) -eq 0 ]]; then
    home=$(mktemp -d /tmp/gpuopt-postgres.XXXXXX)
    chown postgres:postgres "$home"
    echo "$home" > "$dir/home"
  fi
  (cd / && "${as_owner[@]}" "$bin/initdb" -D "$home/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N) \
    > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  for attempt in 1 2 3; do
    port=$(free_port)
    durability="-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    if [[ "${PG_DURABLE:-0}" == 1 ]]; then durability="-c shared_buffers=256MB -c max_wal_size=2GB"; fi
    if (cd / && "${as_owner[@]}" "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $home -c max_connections=200 -c shared_buffers=64MB \
             $durability" start > /dev/null); then
      echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
      echo "PostgreSQL 15 on 127.0.0.1:$port ($dir)"
      exit 0
    fi
    echo "postgres.sh: start on port $port failed (attempt $attempt):" >&2
    tail -5 "$home/server.log" >&2 || true
  done
  exit 1
}

service_main "$action"
