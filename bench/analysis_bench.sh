#!/usr/bin/env bash
# make bench, part 3: savings and recommendations for one customer with 64 GPUs over 30 days of 60 s
# windows (bench/history_fixture.cpp builds them: 7 days raw, all 30 rolled up hourly), through the
# release server over HTTP. Each endpoint is asked RUNS times (default 15); the median and the
# slowest are printed. Reference in the same run: the same savings over the 7 raw days (read from raw
# windows, ~645k rows), which is what every 30-day question would cost without the roll-up, per week.
# Target: < 100 ms for the 30-day savings and recommendations.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
PORT=${ANALYSIS_PORT:-18083}
BIN=./build/release/src/server/gpuopt
work=$(mktemp -d)
cleanup() {
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "analysis benchmark: building 30 days of history for 64 GPUs ..."
key=$(./build/release/bench/history_fixture "$work/data")
LOG_LEVEL=warn ACCESS_LOG=off ROLLUP_INTERVAL_SECONDS=3600 "$BIN" serve --port "$PORT" --data-dir "$work/data" \
  --port-file "$work/port" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { cat "$work/server.log"; exit 1; }

measure() {  # path -> "median max" in ms
  local path=$1 times=()
  for _ in $(seq "$RUNS"); do
    times+=("$(curl -s -o "$work/body.json" -w '%{time_total}' -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT$path")")
  done
  grep -q '"status":"success"' "$work/body.json" || { echo "$path failed: $(head -c 300 "$work/body.json")" >&2; exit 1; }
  printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f %.1f", t[int((NR + 1) / 2)], t[NR] }'
}

read -r sav_med sav_max <<<"$(measure "/api/savings?range=30d")"
read -r rec_med rec_max <<<"$(measure "/api/recommendations?range=30d")"
read -r raw_med raw_max <<<"$(measure "/api/savings?range=7d")"
read -r gpus_med gpus_max <<<"$(measure "/api/gpus")"
[[ -n "$sav_med" && -n "$rec_med" && -n "$raw_med" && -n "$gpus_med" ]] || { echo "analysis benchmark: a request failed"; exit 1; }

printf '\nAnalysis benchmark: 64 GPUs, 30 days of 60 s windows, %s requests each, release server on loopback\n' "$RUNS"
printf '%-48s %10s %10s\n' "request" "median ms" "max ms"
printf '%-48s %10s %10s\n' "GET /api/savings?range=30d (hourly roll-up)" "$sav_med" "$sav_max"
printf '%-48s %10s %10s\n' "GET /api/recommendations?range=30d (roll-up)" "$rec_med" "$rec_max"
printf '%-48s %10s %10s\n' "GET /api/savings?range=7d (raw windows, ref.)" "$raw_med" "$raw_max"
printf '%-48s %10s %10s\n' "GET /api/gpus" "$gpus_med" "$gpus_max"
awk -v s="$sav_med" -v r="$raw_med" 'BEGIN { printf "30 days from the roll-up vs 7 raw days: %.1fx faster for 4.3x the range\n", r / s }'
echo "targets:"
for pair in "savings:$sav_med" "recommendations:$rec_med"; do
  name=${pair%%:*}; value=${pair#*:}
  if awk -v v="$value" 'BEGIN { exit !(v < 100) }'; then echo "  met:    $name over 30 days ($value ms < 100 ms)"; else echo "  missed: $name over 30 days ($value ms, target < 100 ms)"; fi
done
