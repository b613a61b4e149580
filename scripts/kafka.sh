#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft combined broker+controller) on 127.0.0.1 for
# tests and local development, with no Docker and no download except Maven Central:
# the broker's jars come from Maven through scripts/kafka/pom.xml.
#
#   scripts/kafka.sh start    fetch jars once, format storage once, start, wait until ready
#   scripts/kafka.sh stop     stop the broker started by `start` (pid file) and wait for it
#   scripts/kafka.sh status   exit 0 if a broker answers a metadata request, else 1
#   scripts/kafka.sh reset    stop and delete the data dir (topics, offsets, cluster id)
#
# Env: KAFKA_PORT (broker, default 9092), KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1),
#      KAFKA_PROXIED_PORT (a second listener, default KAFKA_PORT+100), KAFKA_PROXY_PORT (the
#      address that listener advertises: the fault proxy's, default KAFKA_PORT+10000),
#      KAFKA_HEAP (default 512m), KAFKA_READY_TIMEOUT (seconds, default 90).
# Everything lives under .cache/kafka/ in the repo (git-ignored).
set -euo pipefail

# Work from the repo root whatever the caller's cwd, so every relative path below is stable.
cd "$(dirname "$0")/.."
ROOT="$PWD"

POM="scripts/kafka/pom.xml"
# The pom is the single source of truth for the version, so a bump there is all it takes.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
# The chaos suite's fault proxy (scripts/toxiproxy.sh) forwards KAFKA_PROXY_PORT to the
# PROXIED listener, which advertises the proxy's address: a client that bootstraps through the
# proxy is told the broker is at the proxy, so its reconnects go through the proxy too.
KAFKA_PROXIED_PORT="${KAFKA_PROXIED_PORT:-$((KAFKA_PORT + 100))}"
KAFKA_PROXY_PORT="${KAFKA_PROXY_PORT:-$((KAFKA_PORT + 10000))}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"

CACHE="$ROOT/.cache/kafka"
VERSION_DIR="$CACHE/$KAFKA_VERSION"
LIBS="$VERSION_DIR/libs"
LIBS_MARKER="$LIBS/.complete"          # holds the pom's checksum: a changed pom re-resolves
PROPS="$VERSION_DIR/server.properties"
LOG4J="$VERSION_DIR/log4j2.xml"
DATA="$CACHE/data"
DATA_MARKER="$DATA/.formatted-for"     # version + ports the storage was formatted with
LOG_DIR="$CACHE/logs"
PID_FILE="$CACHE/kafka.pid"
PORT_FILE="$CACHE/kafka.port"          # broker port of the process in PID_FILE
OUT_FILE="$CACHE/kafka.out"

log() { echo "kafka.sh: $*" >&2; }

# Python used for the readiness probe: the project venv (has aiokafka) if present,
# else the system python3 (the probe then speaks the Kafka protocol with stdlib sockets).
python_bin() {
  if [[ -x "$ROOT/.venv/bin/python" ]]; then echo "$ROOT/.venv/bin/python"; else echo python3; fi
}

# probe TIMEOUT_SECONDS: exit 0 iff a broker at $BOOTSTRAP answers a real Metadata request
# listing at least one broker. A TCP connect alone is not enough: the port opens before the
# broker has caught up with the metadata log and can serve clients.
probe() {
  "$(python_bin)" - "$BOOTSTRAP" "$1" <<'PY'
import asyncio, logging, socket, struct, sys

logging.disable(logging.CRITICAL)  # aiokafka logs every refused connection; we only want the verdict
bootstrap, timeout = sys.argv[1], float(sys.argv[2])

async def with_aiokafka():
    from aiokafka.client import AIOKafkaClient
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)  # bootstrap() is a Metadata request
        return len(client.cluster.brokers()) > 0
    finally:
        await client.close()

def with_socket():
    # Metadata v4 (Kafka 4 dropped v0-v3): header v1 + topics=null (all) + allow_auto_create.
    host, port = bootstrap.rsplit(":", 1)
    body = struct.pack(">hhih", 3, 4, 1, 5) + b"probe" + struct.pack(">ib", -1, 0)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        resp = s.recv(size, socket.MSG_WAITALL)
    correlation, _throttle, brokers = struct.unpack(">iii", resp[:12])
    return correlation == 1 and brokers > 0

try:
    try:
        import aiokafka  # noqa: F401
    except ImportError:
        ok = with_socket()
    else:
        ok = asyncio.run(with_aiokafka())
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PY
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
  alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka.Kafka'
}

fetch_jars() {
  local sum
  sum="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$LIBS_MARKER" && "$(cat "$LIBS_MARKER")" == "$sum" ]]; then
    return
  fi
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central into ${LIBS#"$ROOT"/} (once)"
  rm -rf "$LIBS"
  # Output goes to a file and is shown only on failure (Maven 3.8 prints ANSI codes even
  # with -B -q). Maven keeps its own ~/.m2 cache too, so a second copy is offline and fast.
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS" \
    -DincludeScope=runtime >"$CACHE/mvn.out" 2>&1; then
    cat "$CACHE/mvn.out" >&2
    log "could not resolve Kafka from Maven Central (see above)"
    exit 1
  fi
  # The marker is written last, so an interrupted copy is redone rather than half-used.
  echo "$sum" >"$LIBS_MARKER"
}

write_config() {
  mkdir -p "$VERSION_DIR" "$LOG_DIR"
  # Regenerated on every start (cheap), so port changes via env take effect.
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh; edits are overwritten on the next start.
# KRaft combined mode: one JVM is both broker and the (single) controller.
process.roles=broker,controller
node.id=1
# Dynamic quorum (KIP-853) bootstrapped with \`format --standalone\`.
controller.quorum.bootstrap.servers=127.0.0.1:${KAFKA_CONTROLLER_PORT}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},PROXIED://127.0.0.1:${KAFKA_PROXIED_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
# PROXIED is reached through the fault proxy only (see KAFKA_PROXY_PORT above).
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},PROXIED://127.0.0.1:${KAFKA_PROXY_PORT}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${DATA}

# One node: every internal topic must have replication factor 1 or it is never created
# (consumer groups, transactions and share groups would then hang).
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
# Fewer internal partitions (defaults are 50) make the first group join / first
# transaction noticeably faster on a 2-core machine; tests don't need the spread.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1

# Test-friendly behaviour.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
num.partitions=1
delete.topic.enable=true
EOF

  # Quiet: WARN and above to a file, nothing on the console (kafka.out only gets JVM noise).
  cat >"$LOG4J" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="${LOG_DIR}/server.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <!-- Keep the line that says the broker is up, handy when reading the log. -->
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
EOF
}

# The JVM command line shared by the storage tool and the broker. An array, so that the
# classpath wildcard reaches java verbatim (java expands libs/*, not the shell).
# Modest heap: this is a test broker on a 2-core machine shared with the test suite.
JAVA=(java -Xms128m "-Xmx${KAFKA_HEAP}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J" -cp "$LIBS/*")

format_storage() {
  local want="$KAFKA_VERSION $KAFKA_PORT $KAFKA_CONTROLLER_PORT elr=0"
  if [[ -f "$DATA/meta.properties" && -f "$DATA_MARKER" && "$(cat "$DATA_MARKER")" == "$want" ]]; then
    return
  fi
  # The standalone quorum records the controller's address at format time, so storage
  # formatted for other ports (or a half-formatted dir) is thrown away: it is test data.
  if [[ -d "$DATA" ]]; then
    log "data dir was formatted for '$(cat "$DATA_MARKER" 2>/dev/null || echo unknown)', re-formatting for '$want'"
    rm -rf "$DATA"
  fi
  local cluster_id
  # As Kafka's own Uuid.randomUuid(): never one starting with "-", which the storage tool's
  # argument parser would take for an option (1 fresh machine in 64 failed to format).
  cluster_id="$(python3 -c 'import base64, uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(i)')"
  log "formatting storage (cluster id $cluster_id)"
  # Eligible leader replicas (KIP-966, on by default since 4.1) off: with one replica, a
  # controlled shutdown empties the ISR, and transaction markers written in that moment were
  # acknowledged to the coordinator yet gone after the restart: the chaos suite's
  # kafka-restart case then saw a committed result whose offset commit had been lost (one
  # duplicate result in 2 of 4 CI runs). A one-broker test cluster gains nothing from ELR.
  "${JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$PROPS" \
    --feature eligible.leader.replicas.version=0 >"$CACHE/format.out" 2>&1 \
    || { cat "$CACHE/format.out" >&2; exit 1; }
  echo "$want" >"$DATA_MARKER"
}

start() {
  if probe 3; then
    log "a broker already answers on $BOOTSTRAP; nothing to do"
    return
  fi
  if pid_alive; then
    # One broker per checkout: they share the data dir, and formatting it for another
    # port would pull it from under the running one.
    local running_port
    running_port="$(cat "$PORT_FILE" 2>/dev/null || echo '?')"
    if [[ "$running_port" != "$KAFKA_PORT" ]]; then
      log "the broker started from this checkout (pid $(cat "$PID_FILE")) uses port $running_port;" \
        "run 'scripts/kafka.sh stop' before starting one on $KAFKA_PORT"
      exit 1
    fi
    # Our JVM is running but not answering yet (e.g. a concurrent start): just wait for it.
    log "broker process $(cat "$PID_FILE") is running but not ready yet; waiting"
  else
    local t0=$SECONDS
    mkdir -p "$CACHE"
    fetch_jars
    write_config
    format_storage
    log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
    # nohup + setsid: the broker outlives this script and the shell/CI step that ran it.
    nohup setsid "${JAVA[@]}" kafka.Kafka "$PROPS" >"$OUT_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    echo "$KAFKA_PORT" >"$PORT_FILE"
    log "prepared and launched in $((SECONDS - t0))s (pid $(cat "$PID_FILE"))"
  fi
  wait_ready
}

wait_ready() {
  local deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if probe 2; then
      log "ready on $BOOTSTRAP"
      return
    fi
    if ! pid_alive; then
      log "broker process exited during startup"
      dump_logs
      exit 1
    fi
    sleep 0.5
  done
  log "not ready after ${KAFKA_READY_TIMEOUT}s"
  dump_logs
  exit 1
}

dump_logs() {
  for f in "$OUT_FILE" "$LOG_DIR/server.log"; do
    if [[ -s "$f" ]]; then
      echo "----- tail of ${f#"$ROOT"/} -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

stop() {
  if ! pid_alive; then
    rm -f "$PID_FILE"
    if probe 2; then
      log "a broker answers on $BOOTSTRAP but was not started by this script (no live pid file); leaving it alone"
    else
      log "not running"
    fi
    return
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  log "stopping pid $pid"
  # SIGTERM runs Kafka's controlled shutdown (clean logs => no recovery on next start).
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    log "still alive after 30s; SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped"
}

status() {
  if probe 3; then
    log "up on $BOOTSTRAP$(pid_alive && echo " (pid $(cat "$PID_FILE"))")"
    return 0
  fi
  log "down on $BOOTSTRAP"
  return 1
}

reset() {
  stop
  rm -rf "$DATA" "$LOG_DIR"
  log "data dir removed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
