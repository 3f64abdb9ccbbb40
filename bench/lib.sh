# Shared by the wrk benchmarks (sourced, not run): nginx as the reference server, and wrk's latency
# figures in milliseconds. Callers set `work` (a private temp dir) before calling start_nginx.

# start_nginx PORT ACCESS_LOG: one worker serving $work/www on 127.0.0.1:PORT, with a static JSON the size
# of our health answer at /health.json. ACCESS_LOG is a file, or "off".
start_nginx() {
  local port=$1 access_log=$2
  mkdir -p "$work/www" "$work/nginx-tmp"
  chmod 755 "$work" "$work/www"  # nginx workers run unprivileged
  printf '{"status":"healthy","timestamp":"2026-11-25T10:00:00Z","version":"0.1.0","services":{"database":"healthy"}}' \
    > "$work/www/health.json"
  cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log $access_log;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp;
  scgi_temp_path $work/nginx-tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { root $work/www; default_type application/json; }
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work"
}

# to_ms VALUE: wrk latency such as 812.00us, 1.21ms, 1.02s -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "nan" }'
}
