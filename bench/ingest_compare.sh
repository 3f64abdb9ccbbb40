#!/usr/bin/env bash
# make bench, part 4: ingest throughput of POST /api/track-usage now against the server at BASELINE
# (default 9950d72, before the hardening of ingest: time accounting, per-host report budget, strict JSON),
# both release builds, both durable, in the same run on this machine: wrk (1 thread, 64 connections,
# DURATION s) with 1 and with 8 GPUs a report, ROUNDS interleaved rounds, best kept. Ingest must stay
# within 10 % of the baseline. (BASELINE=78074eb compares with the server before the history work.)
# The baseline is built once into build/baseline (a git worktree), with ccache when present.
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${BASELINE:-9950d72}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
root=$PWD
src="$root/build/baseline/src"
out="$root/build/baseline/build"
if [[ ! -x "$out/src/server/gpuopt" || "$(git -C "$src" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BASELINE")" ]]; then
  echo "ingest comparison: building the baseline ($BASELINE) once ..."
  rm -rf "$root/build/baseline"
  git worktree prune
  git worktree add --detach "$src" "$BASELINE" > /dev/null
  CCACHE_BASEDIR="$src" cmake -S "$src" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPUOPT_BUILD_TESTS=OFF > /dev/null
  CCACHE_BASEDIR="$src" cmake --build "$out" --target gpuopt -j"$(nproc)" > /dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

declare -A PORT KEY
start() {  # name binary port
  local name=$1 bin=$2 port=$3
  mkdir -p "$work/$name"
  ACCESS_LOG="$work/$name/access.log" LOG_LEVEL=warn "$bin" serve --port "$port" --data-dir "$work/$name" \
    --port-file "$work/$name/port" > "$work/$name/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -s "$work/$name/port" ]] && break; sleep 0.1; done
  [[ -s "$work/$name/port" ]] || { cat "$work/$name/server.log"; exit 1; }
  KEY[$name]=$(curl -s -X POST "http://127.0.0.1:$port/api/signup" -H 'Content-Type: application/json' \
                 -d '{"email":"ingest@example.com"}' | sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p')
  "$bin" admin set-tier --email ingest@example.com --tier enterprise --data-dir "$work/$name" > /dev/null
  PORT[$name]=$port
}
start baseline "$out/src/server/gpuopt" 18085
start current ./build/release/src/server/gpuopt 18086

declare -A BEST
for round in $(seq "$ROUNDS"); do
  for gpus in 1 8; do
    for name in baseline current; do
      out=$(wrk -t1 -c64 -d"${DURATION}s" -s bench/track_usage.lua "http://127.0.0.1:${PORT[$name]}/api/track-usage" \
              -- "${KEY[$name]}" "$gpus" "cmp-$round-$gpus")
      # A refused report is not ingest: any answer other than 2xx makes the comparison void.
      if grep -q 'Non-2xx' <<<"$out"; then
        echo "ingest comparison: $name answered non-2xx to reports:"; echo "$out"; exit 1
      fi
      rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      k="$name-$gpus"
      if [[ -z "${BEST[$k]:-}" ]] || awk -v a="$rps" -v b="${BEST[$k]}" 'BEGIN { exit !(a > b) }'; then BEST[$k]=$rps; fi
    done
  done
done

printf '\nIngest at %s (baseline) and now: wrk 1 thread, 64 connections, %s s, best of %s interleaved rounds\n' "$(git rev-parse --short "$BASELINE")" \
  "$DURATION" "$ROUNDS"
printf '%-30s %14s %14s %10s\n' "POST /api/track-usage" "baseline r/s" "now r/s" "now/base"
for gpus in 1 8; do
  awk -v g="$gpus" -v b="${BEST[baseline-$gpus]}" -v c="${BEST[current-$gpus]}" \
    'BEGIN { printf "%-30s %14.0f %14.0f %9.2fx\n", g " GPU(s) a report", b, c, c / b }'
done
echo "targets:"
for gpus in 1 8; do
  ratio=$(awk -v b="${BEST[baseline-$gpus]}" -v c="${BEST[current-$gpus]}" 'BEGIN { printf "%.2f", c / b }')
  if awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9) }'; then echo "  met:    $gpus GPU(s): $ratio of the baseline (>= 0.90)"
  else echo "  missed: $gpus GPU(s): $ratio of the baseline (target >= 0.90)"; fi
done
