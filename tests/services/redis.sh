#!/usr/bin/env bash
# A throw-away Redis 7 for the tests, from Debian's redis-server package.
#   tests/services/redis.sh start DIR   start on a free loopback port, no persistence, write DIR/url
#   tests/services/redis.sh stop DIR    stop it and remove DIR
# Debian's /etc/redis/redis.conf is not read (it daemonizes and persists); every option is given here.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
action=${1:?start or stop}
dir=$(realpath -m "${2:?a directory}")

stop() {
  if [[ -f "$dir/redis.pid" ]]; then
    local pid
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
  fi
  rm -rf "$dir"
}

start() {
  command -v redis-server > /dev/null || { echo "redis.sh: redis-server not found (run scripts/setup --test)" >&2; exit 2; }
  stop
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --daemonize yes
    for _ in $(seq 200); do
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2> /dev/null)" == "PONG" ]]; then
        echo "redis://127.0.0.1:$port" > "$dir/url"
        echo "Redis on 127.0.0.1:$port ($dir)"
        exit 0
      fi
      sleep 0.05
    done
    echo "redis.sh: start on port $port failed (attempt $attempt):" >&2
    tail -5 "$dir/redis.log" >&2 || true
    stop
    mkdir -p "$dir"
  done
  exit 1
}

service_main "$action"
