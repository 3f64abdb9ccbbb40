#!/usr/bin/env bash
# make bench, PostgreSQL against SQLite in the same run (docs/deploy.md, issue "scale-out"):
#  1. Durable ingest, POST /api/track-usage with 1 and 8 GPUs per report, wrk 1 thread and 64 connections:
#     one release server on SQLite, one on PostgreSQL (fsync and synchronous commit on), and three servers on
#     PostgreSQL behind nginx (one worker, keep-alive upstream). Best of ROUNDS interleaved rounds; every
#     report answered 200 is counted in the database afterwards.
#  2. History: 64 GPUs x 30 days (bench/history_fixture), copied into PostgreSQL with `gpuopt migrate
#     --from`; GET /api/savings and /api/usage over 30 days, RUNS times on each backend: median and slowest.
# Everything shares this machine's cores (wrk, nginx, the servers, PostgreSQL): the figures are for
# comparing the backends with each other, not a PostgreSQL server of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-20}
CONNECTIONS=${CONNECTIONS:-64}
MANY=${MANY:-256}  # connections for the "many agents" rows
BIN=${BIN:-./build/release/src/server/gpuopt}
BASE_PORT=${PG_BENCH_PORT:-18090}
work=$(mktemp -d)
chmod 755 "$work"  # PostgreSQL runs as its own user and must reach its folder inside
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  tests/services/postgres.sh stop "$work/pg" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

PG_DURABLE=1 tests/services/postgres.sh start "$work/pg" > /dev/null
admin_url=$(cat "$work/pg/url")
pg_url() { echo "${admin_url%/postgres}/$1"; }
psql_admin() { psql -qAt "$admin_url" -c "$1"; }

start_server() {  # name port env...: a release server with its own data dir
  local name=$1 port=$2; shift 2
  mkdir -p "$work/$name"
  env "$@" LOG_LEVEL=warn ACCESS_LOG=off RATE_LIMIT_ENTERPRISE=0 "$BIN" serve --port "$port" --data-dir "$work/$name" \
    --port-file "$work/$name/port" > "$work/$name/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do [[ -s "$work/$name/port" ]] && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$work/$name/server.log"; exit 1
}

signup() {  # port data-dir env... -> an enterprise key
  local port=$1 dir=$2; shift 2
  local email="bench-$RANDOM-$(date +%s%N)@example.com" key
  key=$(curl -s -X POST "http://127.0.0.1:$port/api/signup" -H 'Content-Type: application/json' \
          -d "{\"email\":\"$email\"}" | sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p')
  [[ -n "$key" ]] || { echo "sign-up failed on $port" >&2; exit 1; }
  env "$@" "$BIN" admin set-tier --email "$email" --tier enterprise --data-dir "$dir" > /dev/null
  echo "$key"
}

# --- 1. ingest ------------------------------------------------------------------------------------
psql_admin "CREATE DATABASE ingest"
start_server sqlite $((BASE_PORT + 1))
start_server pg $((BASE_PORT + 2)) DATABASE_URL="$(pg_url ingest)"
for i in 1 2 3; do start_server "pg$i" $((BASE_PORT + 2 + i)) DATABASE_URL="$(pg_url ingest)"; done
mkdir -p "$work/www" "$work/nginx-tmp"
chmod 755 "$work" "$work/www"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  upstream gpuopt {
    server 127.0.0.1:$((BASE_PORT + 3));
    server 127.0.0.1:$((BASE_PORT + 4));
    server 127.0.0.1:$((BASE_PORT + 5));
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$BASE_PORT;
    location / {
      proxy_pass http://gpuopt;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
sqlite_key=$(signup $((BASE_PORT + 1)) "$work/sqlite")
pg_key=$(signup $((BASE_PORT + 2)) "$work/pg" DATABASE_URL="$(pg_url ingest)")

declare -A RPS P99 ANSWERED ERRS
run() {  # name url key gpus prefix [connections]
  local name=$1 out rps
  out=$(wrk -t1 -c"${6:-$CONNECTIONS}" -d"${DURATION}s" --latency -s bench/track_usage.lua "$2" -- "$3" "$4" "$5")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  ANSWERED[$name]=$(( ${ANSWERED[$name]:-0} + $(awk '/requests in/ {print $1}' <<<"$out") ))
  ERRS[$name]="${ERRS[$name]:-}$(awk '/Non-2xx or 3xx responses:/ {printf "non-2xx:%s ", $5}' <<<"$out")"
  if [[ -z "${RPS[$name]:-}" ]] || awk -v a="$rps" -v b="${RPS[$name]}" 'BEGIN { exit !(a > b) }'; then
    RPS[$name]=$rps
    P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  fi
}
for round in $(seq "$ROUNDS"); do
  for gpus in 1 8; do
    run "sqlite$gpus" "http://127.0.0.1:$((BASE_PORT + 1))/api/track-usage" "$sqlite_key" "$gpus" "s$gpus-$round"
    run "pg$gpus" "http://127.0.0.1:$((BASE_PORT + 2))/api/track-usage" "$pg_key" "$gpus" "p$gpus-$round"
    run "cluster$gpus" "http://127.0.0.1:$BASE_PORT/api/track-usage" "$pg_key" "$gpus" "c$gpus-$round"
  done
  # Many agents at once: a commit carries more reports, so commit latency weighs less.
  run "sqlite1many" "http://127.0.0.1:$((BASE_PORT + 1))/api/track-usage" "$sqlite_key" 1 "sm-$round" "$MANY"
  run "pg1many" "http://127.0.0.1:$((BASE_PORT + 2))/api/track-usage" "$pg_key" 1 "pm-$round" "$MANY"
done
stored_sqlite=$(sqlite3 "$work/sqlite/gpuopt.db" "SELECT COUNT(*) FROM usage_reports")
stored_pg=$(psql -qAt "$(pg_url ingest)" -c "SELECT COUNT(*) FROM usage_reports WHERE report_id LIKE 'p%'")
answered_sqlite=$(( ANSWERED[sqlite1] + ANSWERED[sqlite8] + ANSWERED[sqlite1many] ))
answered_pg=$(( ANSWERED[pg1] + ANSWERED[pg8] + ANSWERED[pg1many] ))
stored_cluster=$(psql -qAt "$(pg_url ingest)" -c "SELECT COUNT(*) FROM usage_reports WHERE report_id LIKE 'c%'")
for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
pids=()
kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
rm -f "$work/nginx.pid"

printf '\nDurable ingest: wrk 1 thread, %s connections, %s s, best of %s interleaved rounds; %s cores shared by all\n' \
  "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(nproc)"
printf '%-48s %12s %9s %12s  %s\n' "POST /api/track-usage" "reports/s" "p99 ms" "vs SQLite" "errors"
for gpus in 1 8 1many; do
  for name in sqlite pg cluster; do
    [[ $gpus == 1many && $name == cluster ]] && continue
    case $name in
      sqlite) label="one server, SQLite" ;;
      pg) label="one server, PostgreSQL" ;;
      cluster) label="3 servers + nginx, PostgreSQL" ;;
    esac
    if [[ $gpus == 1many ]]; then label="1 GPU, $MANY connections, $label"; else label="$gpus GPU, $label"; fi
    ratio=$(awk -v a="${RPS[$name$gpus]}" -v b="${RPS[sqlite$gpus]}" 'BEGIN { printf "%.2fx", a / b }')
    printf '%-48s %12s %9s %12s  %s\n' "$label" "${RPS[$name$gpus]}" "${P99[$name$gpus]}" "$ratio" "${ERRS[$name$gpus]:-none}"
  done
done
printf 'answered 200 by wrk / stored: SQLite %s / %s, PostgreSQL %s / %s, cluster %s / %s\n' \
  "$answered_sqlite" "$stored_sqlite" "$answered_pg" "$stored_pg" \
  "$(( ANSWERED[cluster1] + ANSWERED[cluster8] ))" "$stored_cluster"

# --- 2. history reads -----------------------------------------------------------------------------
echo "building 30 days of history for 64 GPUs ..."
key=$(./build/release/bench/history_fixture "$work/hist")
psql_admin "CREATE DATABASE history"
"$BIN" migrate --from "sqlite:$work/hist/gpuopt.db" --to "$(pg_url history)" --data-dir "$work/hist" > "$work/copy.log"
grep -q "^verified" "$work/copy.log" || { cat "$work/copy.log"; exit 1; }
psql -qAt "$(pg_url history)" -c "ANALYZE" > /dev/null
mkdir -p "$work/hist-pg"
for name in hist hist-pg; do
  extra=()
  [[ $name == hist-pg ]] && extra=(DATABASE_URL="$(pg_url history)")
  port=$((BASE_PORT + 6))
  [[ $name == hist-pg ]] && port=$((BASE_PORT + 7))
  env "${extra[@]}" LOG_LEVEL=warn ACCESS_LOG=off ROLLUP_INTERVAL_SECONDS=3600 "$BIN" serve --port "$port" \
    --data-dir "$work/$name" --port-file "$work/$name/port" > "$work/$name/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do [[ -s "$work/$name/port" ]] && break; sleep 0.1; done
done
measure() {  # port path -> "median max" in ms
  local times=()
  for _ in $(seq "$RUNS"); do
    times+=("$(curl -s -o "$work/body.json" -w '%{time_total}' -H "Authorization: Bearer $key" "http://127.0.0.1:$1$2")")
  done
  grep -q '"status":"success"' "$work/body.json" || { echo "$2 failed: $(head -c 300 "$work/body.json")" >&2; exit 1; }
  printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f %.1f", t[int((NR + 1) / 2)], t[NR] }'
}
printf '\nHistory reads: 64 GPUs x 30 days, %s requests each (the slowest of %s is the p95 and beyond)\n' "$RUNS" "$RUNS"
printf '%-40s %12s %12s %12s %12s\n' "request" "SQLite med" "SQLite max" "PG med" "PG max"
declare -a missed=()
for path in "/api/savings?range=30d" "/api/usage?range=30d"; do
  read -r s_med s_max <<<"$(measure $((BASE_PORT + 6)) "$path")"
  read -r p_med p_max <<<"$(measure $((BASE_PORT + 7)) "$path")"
  printf '%-40s %12s %12s %12s %12s\n' "GET $path" "$s_med" "$s_max" "$p_med" "$p_max"
  for v in "$s_max" "$p_max"; do awk -v v="$v" 'BEGIN { exit !(v >= 100) }' && missed+=("$path ($v ms)"); done
done
echo "targets:"
check() {  # label value op target
  if awk -v v="$2" -v t="$4" "BEGIN { exit !(v $3 t) }"; then echo "  met:    $1 ($2 $3 $4)"; else echo "  missed: $1 ($2, target $3 $4)"; fi
}
check "PostgreSQL ingest, 1 GPU, $CONNECTIONS connections, reports/s" "${RPS[pg1]}" ">=" 10000
check "PostgreSQL ingest, 1 GPU, $MANY connections, reports/s" "${RPS[pg1many]}" ">=" 10000
check "PostgreSQL ingest vs SQLite, 1 GPU" "$(awk -v a="${RPS[pg1]}" -v b="${RPS[sqlite1]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.5
if [[ ${#missed[@]} -eq 0 ]]; then echo "  met:    history reads, slowest of $RUNS < 100 ms on both backends"; else echo "  missed: history reads under 100 ms: ${missed[*]}"; fi
