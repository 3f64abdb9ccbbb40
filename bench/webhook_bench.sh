#!/usr/bin/env bash
# Webhook benchmark: valid signed NOWPayments IPNs, each for a distinct payment, posted by wrk (1 thread,
# 64 connections, DURATION s) to the release server on the SQLite store. Every 2xx means the IPN's
# signature was checked and the raw event committed (synchronous=FULL) in the gateway-event inbox; the
# billing worker runs meanwhile and asks the "gateway" (an nginx that knows no payment: 404) about
# each one, as it would in production. References in the same run: nginx serving a static JSON, and
# GET /api/health. Prints requests/s, p50/p99 latency to the 2xx, and the events stored.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-64}
IPNS=${IPNS:-400000}
BIN=./build/release/src/server/gpuopt
NGINX_PORT=${NGINX_PORT:-18090}
GPUOPT_PORT=${GPUOPT_PORT:-18091}
SECRET="bench-ipn-secret-$(date +%s)"
work=$(mktemp -d)
cleanup() {
  [[ -n "${gpuopt_pid:-}" ]] && kill "$gpuopt_pid" 2>/dev/null && wait "$gpuopt_pid" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- nginx: the reference, and the stand-in gateway that knows no payment ------------------------
start_nginx "$NGINX_PORT" off

# --- the IPNs: NOWPayments' shape, keys in the gateway's order, signed over the key-sorted form ----
/usr/bin/python3 - "$SECRET" "$IPNS" > "$work/ipns.tsv" <<'PY'
import hashlib, hmac, json, sys
secret, count = sys.argv[1].encode(), int(sys.argv[2])
for i in range(count):
    ipn = {"payment_id": 6000000000 + i, "parent_payment_id": None, "invoice_id": 4000000000 + i,
           "payment_status": "finished", "pay_address": "bc1qbenchaddress", "price_amount": 49.0,
           "price_currency": "usd", "pay_amount": 0.00051234, "actually_paid": 0.00051234,
           "actually_paid_at_fiat": 0, "pay_currency": "btc", "order_id": "gpo_bench%016d" % i,
           "order_description": "GPUOptimizer Professional", "purchase_id": str(5000000000 + i),
           "outcome_amount": 0.0005, "outcome_currency": "btc", "payment_extra_ids": None,
           "fee": {"currency": "btc", "depositFee": 0, "withdrawalFee": 0, "serviceFee": 1e-8}}
    body = json.dumps(ipn, separators=(",", ":"))
    canonical = json.dumps(ipn, separators=(",", ":"), sort_keys=True)
    sig = hmac.new(secret, canonical.encode(), hashlib.sha512).hexdigest()
    print(sig + "\t" + body)
PY

# --- gpuopt: release build, a fresh SQLite data dir, NOWPayments configured ------------------------
mkdir -p "$work/data"
NOWPAYMENTS_API_KEY=bench-key NOWPAYMENTS_IPN_SECRET="$SECRET" NOWPAYMENTS_BASE_URL="http://127.0.0.1:$NGINX_PORT" \
  ACCESS_LOG="$work/data/access.log" LOG_LEVEL=error "$BIN" serve --port "$GPUOPT_PORT" --data-dir "$work/data" \
  --port-file "$work/data/port" > "$work/gpuopt.log" 2>&1 &
gpuopt_pid=$!
for _ in $(seq 100); do [[ -s "$work/data/port" ]] && break; sleep 0.1; done
[[ -s "$work/data/port" ]] || { echo "gpuopt did not start"; cat "$work/gpuopt.log"; exit 1; }

declare -A RPS P50 P99 ERRS ANSWERED
run() {  # name url [lua file]
  local name=$1 url=$2 out rps
  if [[ $# -gt 2 ]]; then
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/nowpayments_ipn.lua "$url" -- "$3")
  else
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  ANSWERED[$name]=$(( ${ANSWERED[$name]:-0} + $(awk '/requests in/ {print $1}' <<<"$out") ))
  if [[ -z "${RPS[$name]:-}" ]] || awk -v a="$rps" -v b="${RPS[$name]}" 'BEGIN { exit !(a > b) }'; then
    RPS[$name]=$rps
    P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  fi
  ERRS[$name]="${ERRS[$name]:-}$(awk '/Non-2xx or 3xx responses:/ {printf "non-2xx:%s ", $5} /Socket errors/ {printf "%s ", $0}' <<<"$out")"
}

# Each round posts IPNs the server has not seen: split the file so no round repeats one.
rounds_lines=$(( IPNS / ROUNDS ))
split -d -l "$rounds_lines" "$work/ipns.tsv" "$work/ipns."
for round in $(seq "$ROUNDS"); do
  run nginx "http://127.0.0.1:$NGINX_PORT/health.json"
  run health "http://127.0.0.1:$GPUOPT_PORT/api/health"
  run webhook "http://127.0.0.1:$GPUOPT_PORT/payment/nowpayments/webhook" "$work/ipns.$(printf '%02d' $((round - 1)))"
done
stored=$(sqlite3 "$work/data/gpuopt.db" "SELECT COUNT(*) FROM gateway_events WHERE gateway = 'nowpayments'")
refused=$(sqlite3 "$work/data/gpuopt.db" "SELECT COUNT(*) FROM security_events")

printf '\nWebhook benchmark: wrk 1 thread, %s connections, %s s each, best of %s interleaved rounds; %s cores\n' \
  "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(nproc)"
printf '%-36s %12s %9s %9s %12s  %s\n' "endpoint" "requests/s" "p50 ms" "p99 ms" "vs nginx" "errors"
for name in nginx health webhook; do
  case $name in
    nginx) label="nginx static JSON" ;;
    health) label="GET /api/health" ;;
    webhook) label="POST /payment/nowpayments/webhook" ;;
  esac
  ratio=$(awk -v a="${RPS[$name]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-36s %12s %9s %9s %12s  %s\n' "$label" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$ratio" "${ERRS[$name]:-none}"
done
printf '\nIPNs answered (wrk) / events stored: %s / %s; signatures refused: %s\n' "${ANSWERED[webhook]}" "$stored" "$refused"
echo "(wrk does not count requests still in flight when it stops; those were stored all the same)"
echo "targets:"
if awk -v v="${RPS[webhook]}" 'BEGIN { exit !(v >= 5000) }'; then
  echo "  met:    webhook throughput (${RPS[webhook]} >= 5000/s)"
else
  echo "  missed: webhook throughput (${RPS[webhook]}, target >= 5000/s)"
fi
