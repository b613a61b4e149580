#!/usr/bin/env bash
# A throwaway Redis on 127.0.0.1 for tests and local development, from Debian's
# redis-server package (installed on first use: machines here start without it).
#
#   scripts/redis.sh start    install if missing, start daemonised, wait for PING
#   scripts/redis.sh stop     shut down the instance started by `start`
#   scripts/redis.sh status   exit 0 if something answers PING on the port, else 1
#
# Env: REDIS_PORT (default 6379), REDIS_READY_TIMEOUT (seconds, default 20).
# No persistence: test data must not survive a restart, and writing RDB/AOF files only
# costs time. Pid and log live under .cache/redis/ in the repo (git-ignored).
set -euo pipefail

# Work from the repo root whatever the caller's cwd.
cd "$(dirname "$0")/.."
ROOT="$PWD"

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_READY_TIMEOUT="${REDIS_READY_TIMEOUT:-20}"
CACHE="$ROOT/.cache/redis"
PID_FILE="$CACHE/redis.pid"
LOG_FILE="$CACHE/redis.log"

log() { echo "redis.sh: $*" >&2; }

ping() {
  # redis-cli exits 0 even on a connection error, so the reply itself is checked.
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

ensure_installed() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return
  fi
  log "redis-server not found; installing Debian's redis-server package"
  if [[ $EUID -ne 0 ]]; then
    log "need root for apt-get (or install redis-server yourself)"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package's postinst tries to start a system service; without systemd that just
  # fails quietly and our own instance below is the one that runs.
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
}

# alive PID: true while PID runs. A zombie counts as gone: our daemons are re-parented to
# this machine's init, which reaps them only about once a second, so `kill -0` alone lags.
alive() {
  [[ -r "/proc/$1/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# pid_alive: the process in PID_FILE runs and is ours. Checking its command line keeps a
# stale pid file (after a reboot, say) from making `stop` kill an unrelated process.
pid_alive() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'redis-server'
}

start() {
  ensure_installed
  if ping; then
    log "a Redis already answers on 127.0.0.1:$REDIS_PORT; nothing to do"
    return
  fi
  mkdir -p "$CACHE"
  # Config on the command line (no file): loopback only, no RDB snapshots, no AOF.
  # --dir keeps any stray file redis decides to write inside .cache/redis.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --daemonize yes --pidfile "$PID_FILE" --logfile "$LOG_FILE" --dir "$CACHE" \
    --save '' --appendonly no --protected-mode yes
  local deadline=$((SECONDS + REDIS_READY_TIMEOUT))
  until ping; do
    if ((SECONDS >= deadline)); then
      log "no PONG on 127.0.0.1:$REDIS_PORT after ${REDIS_READY_TIMEOUT}s"
      [[ -s "$LOG_FILE" ]] && tail -n 30 "$LOG_FILE" >&2
      exit 1
    fi
    sleep 0.1
  done
  log "ready on 127.0.0.1:$REDIS_PORT (pid $(cat "$PID_FILE" 2>/dev/null || echo '?'))"
}

stop() {
  if ! pid_alive; then
    rm -f "$PID_FILE"
    if command -v redis-cli >/dev/null && ping; then
      log "a Redis answers on 127.0.0.1:$REDIS_PORT but was not started by this script; leaving it alone"
    else
      log "not running"
    fi
    return
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "still alive after 5s; SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if command -v redis-cli >/dev/null && ping; then
    log "up on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  log "down on 127.0.0.1:$REDIS_PORT"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
