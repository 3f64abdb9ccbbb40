# Shared by the test services' scripts (postgres.sh, redis.sh), which define start and stop and then
# call service_main "$@".

# A loopback port nothing listens on now. A server may still lose the race for it: the callers retry.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

service_main() {
  case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
      echo "usage: $0 start|stop DIR" >&2
      exit 2
      ;;
  esac
}
