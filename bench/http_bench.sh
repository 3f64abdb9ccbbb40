#!/usr/bin/env bash
# HTTP benchmark: gpuopt (release build) against nginx serving a small static JSON, both on this
# machine, in the same run, each driven by wrk with 1 thread and 64 connections for DURATION seconds.
# The four measurements are repeated ROUNDS times, interleaved, and each endpoint's best round is
# kept, so that a burst of noise from elsewhere on the machine does not decide a ratio.
# Prints requests/s, p50/p99 latency and each figure's ratio to nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-64}
BIN=${BIN:-./build/release/src/server/gpuopt}  # BIN=build/baseline/build/src/server/gpuopt: the baseline
NGINX_PORT=${NGINX_PORT:-18080}
GPUOPT_PORT=${GPUOPT_PORT:-18081}
work=$(mktemp -d)
cleanup() {
  [[ -n "${gpuopt_pid:-}" ]] && kill "$gpuopt_pid" 2>/dev/null && wait "$gpuopt_pid" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- nginx: one worker, a static JSON the size of our health answer --------------------------------
start_nginx "$NGINX_PORT" "$work/nginx-access.log"

# --- gpuopt: release build, SQLite in a fresh data dir, access log to a file -----------------------
mkdir -p "$work/data"
ACCESS_LOG="$work/data/access.log" LOG_LEVEL=warn "$BIN" serve --port "$GPUOPT_PORT" --data-dir "$work/data" \
  --port-file "$work/data/port" > "$work/gpuopt.log" 2>&1 &
gpuopt_pid=$!
for _ in $(seq 100); do [[ -s "$work/data/port" ]] && break; sleep 0.1; done
[[ -s "$work/data/port" ]] || { echo "gpuopt did not start"; cat "$work/gpuopt.log"; exit 1; }

email="bench-$(date +%s)@example.com"
key=$(curl -s -X POST "http://127.0.0.1:$GPUOPT_PORT/api/signup" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\"}" | sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p')
[[ -n "$key" ]] || { echo "sign-up failed"; exit 1; }
# Enterprise: no request limit and no GPU limit, so the benchmark measures the server, not the plan.
"$BIN" admin set-tier --email "$email" --tier enterprise --data-dir "$work/data" > /dev/null

# --- measurements --------------------------------------------------------------------------------

declare -A RPS P50 P99 ERRS ROUND_LOG ANSWERED
run() {  # name url [lua args...]; keeps the best round
  local name=$1 url=$2; shift 2
  local out rps
  if [[ $# -gt 0 ]]; then
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/track_usage.lua "$url" -- "$@")
  else
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  ANSWERED[$name]=$(( ${ANSWERED[$name]:-0} + $(awk '/requests in/ {print $1}' <<<"$out") ))
  ROUND_LOG[$name]="${ROUND_LOG[$name]:-}${rps} "
  if [[ -z "${RPS[$name]:-}" ]] || awk -v a="$rps" -v b="${RPS[$name]}" 'BEGIN { exit !(a > b) }'; then
    RPS[$name]=$rps
    P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  fi
  ERRS[$name]="${ERRS[$name]:-}$(awk '/Non-2xx or 3xx responses:/ {printf "non-2xx:%s ", $5} /Socket errors/ {printf "%s ", $0}' <<<"$out")"
}

for round in $(seq "$ROUNDS"); do
  run nginx "http://127.0.0.1:$NGINX_PORT/health.json"
  run health "http://127.0.0.1:$GPUOPT_PORT/api/health"
  run track1 "http://127.0.0.1:$GPUOPT_PORT/api/track-usage" "$key" 1 "r1-$$-$round"
  run track8 "http://127.0.0.1:$GPUOPT_PORT/api/track-usage" "$key" 8 "r8-$$-$round"
done

stored1=$(sqlite3 "$work/data/gpuopt.db" "SELECT COUNT(*) FROM usage_reports WHERE report_id LIKE 'r1-$$-%'")
stored8=$(sqlite3 "$work/data/gpuopt.db" "SELECT COUNT(*) FROM usage_reports WHERE report_id LIKE 'r8-$$-%'")

printf '\nHTTP benchmark: wrk 1 thread, %s connections, %s s each, best of %s interleaved rounds; nginx 1 worker; %s cores\n' \
  "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(nproc)"
printf '%-28s %12s %9s %9s %12s  %s\n' "endpoint" "requests/s" "p50 ms" "p99 ms" "vs nginx" "errors"
for name in nginx health track1 track8; do
  case $name in
    nginx) label="nginx static JSON" ;;
    health) label="GET /api/health" ;;
    track1) label="POST /api/track-usage 1 GPU" ;;
    track8) label="POST /api/track-usage 8 GPU" ;;
  esac
  ratio=$(awk -v a="${RPS[$name]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-28s %12s %9s %9s %12s  %s\n' "$label" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$ratio" "${ERRS[$name]:-none}"
done
printf '\nrequests/s per round:\n'
for name in nginx health track1 track8; do printf '  %-7s %s\n' "$name" "${ROUND_LOG[$name]}"; done
printf '\nreports answered 200 (wrk) / stored in SQLite: 1 GPU %s / %s, 8 GPUs %s / %s\n' \
  "${ANSWERED[track1]}" "$stored1" "${ANSWERED[track8]}" "$stored8"
check() {  # label value op target
  if awk -v v="$2" -v t="$4" "BEGIN { exit !(v $3 t) }"; then echo "  met:    $1 ($2 $3 $4)"; else echo "  missed: $1 ($2, target $3 $4)"; fi
}
echo "targets:"
check "health vs nginx" "$(awk -v a="${RPS[health]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.8
check "track-usage 1 GPU vs nginx" "$(awk -v a="${RPS[track1]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')" ">=" 0.4
for name in health track1 track8; do check "p99 $name ms" "${P99[$name]}" "<" 10; done
