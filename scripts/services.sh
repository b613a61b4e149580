#!/usr/bin/env bash
# The local services the integration tests need: Kafka (scripts/kafka.sh) and Redis
# (scripts/redis.sh), both on 127.0.0.1, both idempotent.
#
#   scripts/services.sh up       start both (in parallel), wait until both are ready
#   scripts/services.sh down     stop both
#   scripts/services.sh status   exit 0 only if both answer
#
# The pytest fixtures in tests/services.py find them at 127.0.0.1:9092 and
# redis://127.0.0.1:6379/0 (or KAFKA_PORT / REDIS_PORT if you moved them, via
# GATEWAY_TEST_KAFKA / GATEWAY_TEST_REDIS).
set -euo pipefail

cd "$(dirname "$0")/.."

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# timed NAME CMD...: run CMD, then print how long it took and whether it worked.
timed() {
  local name="$1" t0 rc=0
  shift
  t0="$(now)"
  "$@" || rc=$?
  if ((rc == 0)); then
    echo "services.sh: $name ok in $(elapsed "$t0")s" >&2
  else
    echo "services.sh: $name FAILED (exit $rc) after $(elapsed "$t0")s" >&2
  fi
  return "$rc"
}

up() {
  local t0 kafka_pid redis_pid rc=0
  t0="$(now)"
  # In parallel: on a cold machine Kafka waits on Maven and Redis on apt; neither needs
  # the other. Each is waited for separately so that both failures get reported.
  timed "kafka start" scripts/kafka.sh start &
  kafka_pid=$!
  timed "redis start" scripts/redis.sh start &
  redis_pid=$!
  wait "$kafka_pid" || rc=1
  wait "$redis_pid" || rc=1
  if ((rc == 0)); then
    echo "services.sh: all services up in $(elapsed "$t0")s" >&2
  else
    echo "services.sh: some services failed to start (see above); try scripts/services.sh status" >&2
  fi
  return "$rc"
}

down() {
  local rc=0
  timed "kafka stop" scripts/kafka.sh stop || rc=1
  timed "redis stop" scripts/redis.sh stop || rc=1
  return "$rc"
}

status() {
  local rc=0
  scripts/kafka.sh status || rc=1
  scripts/redis.sh status || rc=1
  return "$rc"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
