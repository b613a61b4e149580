#!/usr/bin/env bash
# The "Kafka Connect" system under test of the benchmark harness: a Kafka Connect worker in
# standalone mode with clescot's HTTP sink connector (io.github.clescot:
# kafka-connect-http-connectors, from Maven Central), turning each command envelope on the
# commands topic into one vendor HTTP call and writing the HTTP exchange (request + response)
# to the results topic. See bench/connect/README.md.
#
#   bench/connect/run_sut.sh            started by the harness: --sut "bench/connect/run_sut.sh"
#   bench/connect/run_sut.sh --fetch    only resolve the jars (once) and exit
#
# Reads the same GATEWAY_* variables as the gateway: GATEWAY_KAFKA__BOOTSTRAP_SERVERS,
# GATEWAY_KAFKA__COMMANDS_TOPIC, GATEWAY_KAFKA__RESULTS_TOPIC, GATEWAY_KAFKA__CONSUMER_GROUP,
# GATEWAY_VENDOR__BASE_URL, GATEWAY_COMMANDS__MAX_IN_FLIGHT (default 64).
# Optional: CONNECT_HEAP (default 512m), CONNECT_TASKS (default 1), CONNECT_SOURCE
#           (paced | stock, default paced: see src/PacedInMemoryQueueSourceConnector.java),
#           GATEWAY_VENDOR__ACCESS_KEY / GATEWAY_VENDOR__SECRET_KEY (the simulator's demo pair).
#
# The java process is exec'd in the foreground, so the harness's SIGTERM to the process
# group stops the worker (Connect's shutdown hook stops the tasks and flushes offsets).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT="$PWD"
POM="bench/connect/pom.xml"
PACED_SRC="bench/connect/src/PacedInMemoryQueueSourceConnector.java"

prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$POM" | head -n1; }
KAFKA_VERSION="$(prop kafka.version)"
CONNECTOR_VERSION="$(prop http.connector.version)"

CACHE="$ROOT/.cache/connect"
VERSION_DIR="$CACHE/$KAFKA_VERSION-http-$CONNECTOR_VERSION"
LIBS="$VERSION_DIR/libs"
PLUGINS="$VERSION_DIR/plugins"
MARKER="$VERSION_DIR/.complete"   # holds the pom's checksum: a changed pom re-resolves

log() { echo "connect/run_sut.sh: $*" >&2; }

fetch_jars() {
  local sum
  sum="$(cat "$POM" "$PACED_SRC" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$sum" ]]; then
    return
  fi
  log "resolving Kafka Connect $KAFKA_VERSION and kafka-connect-http $CONNECTOR_VERSION from Maven Central (once)"
  rm -rf "$VERSION_DIR"
  mkdir -p "$VERSION_DIR"
  local t0=$SECONDS
  # Plugin 2.8 for the connector's archive on purpose: see the comment in the pom.
  if ! { mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
           -DoutputDirectory="$LIBS" &&
         mvn -B -q -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:2.8:unpack@connector \
           -Dconnect.plugins="$PLUGINS"; } >"$VERSION_DIR/mvn.out" 2>&1; then
    cat "$VERSION_DIR/mvn.out" >&2
    log "could not resolve the jars from Maven Central (see above)"
    exit 1
  fi
  # The paced source connector (see its source) goes into the connector's own plugin
  # directory: it must share the connector's class loader, hence its in-memory queue.
  local plugin_lib classes
  plugin_lib="$(echo "$PLUGINS"/*/lib)"
  classes="$VERSION_DIR/classes"
  if ! { javac -nowarn -d "$classes" -cp "$LIBS/*:$plugin_lib/*" "$PACED_SRC" &&
         jar cf "$plugin_lib/bench-connect-paced-source.jar" -C "$classes" .; } \
       >>"$VERSION_DIR/mvn.out" 2>&1; then
    cat "$VERSION_DIR/mvn.out" >&2
    log "could not compile $PACED_SRC"
    exit 1
  fi
  rm -rf "$classes"
  echo "$sum" >"$MARKER"   # written last: an interrupted resolve is redone, not half-used
  log "resolved in $((SECONDS - t0))s into ${VERSION_DIR#"$ROOT"/}"
}

fetch_jars
if [[ "${1:-}" == "--fetch" ]]; then
  exit 0
fi

BOOTSTRAP="${GATEWAY_KAFKA__BOOTSTRAP_SERVERS:?GATEWAY_KAFKA__BOOTSTRAP_SERVERS is required}"
COMMANDS="${GATEWAY_KAFKA__COMMANDS_TOPIC:?GATEWAY_KAFKA__COMMANDS_TOPIC is required}"
RESULTS="${GATEWAY_KAFKA__RESULTS_TOPIC:?GATEWAY_KAFKA__RESULTS_TOPIC is required}"
GROUP="${GATEWAY_KAFKA__CONSUMER_GROUP:-connect-http-baseline}"
VENDOR="${GATEWAY_VENDOR__BASE_URL:?GATEWAY_VENDOR__BASE_URL is required}"
VENDOR="${VENDOR%/}"
IN_FLIGHT="${GATEWAY_COMMANDS__MAX_IN_FLIGHT:-64}"
TASKS="${CONNECT_TASKS:-1}"
# Each task's put() sends its whole batch concurrently and waits for all of it, so the
# in-flight bound is tasks x max.poll.records.
PER_TASK=$(( (IN_FLIGHT + TASKS - 1) / TASKS ))

# The stock in-memory-queue source task spins a core when idle; "paced" (the default) is
# the same task sleeping 1 ms on an empty queue. CONNECT_SOURCE=stock runs the stock one.
case "${CONNECT_SOURCE:-paced}" in
  paced) SOURCE_CLASS=local.bench.connect.PacedInMemoryQueueSourceConnector ;;
  stock) SOURCE_CLASS=io.github.clescot.kafka.connect.http.source.queue.HttpInMemoryQueueSourceConnector ;;
  *) log "CONNECT_SOURCE must be paced or stock"; exit 2 ;;
esac

# Per run: generated configs, the worker's log and its offsets file. The newest 10 are kept.
RUN_DIR="$CACHE/run/$GROUP"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
find "$CACHE/run" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | tail -n +11 \
  | cut -d' ' -f2- | while read -r old; do rm -rf "$old"; done

# One token for the whole run (the simulator's tokens live 2 h); the connector has no
# notion of the vendor's token protocol, so it is baked into every request body.
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY=python3
read -r TOKEN REST_PORT < <("$PY" - "$VENDOR" "${GATEWAY_VENDOR__ACCESS_KEY:-demo_access}" \
  "${GATEWAY_VENDOR__SECRET_KEY:-demo_secret}" <<'PY'
import json, socket, sys, urllib.parse, urllib.request
url, access, secret = sys.argv[1:4]
body = urllib.parse.urlencode({"access_key": access, "secret_key": secret}).encode()
with urllib.request.urlopen(f"{url}/sdkapi/v2/app/get_token", body, timeout=10) as r:
    answer = json.load(r)
if answer.get("ret", 0) != 0 or "token" not in answer:
    sys.exit(f"get_token failed: {answer}")
with socket.socket() as s:  # a free port for the worker's REST listener
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
print(answer["token"], port)
PY
)
[[ -n "$TOKEN" ]] || { log "no token from $VENDOR"; exit 1; }

cat >"$RUN_DIR/worker.properties" <<EOF
# Generated by bench/connect/run_sut.sh
bootstrap.servers=$BOOTSTRAP
listeners=http://127.0.0.1:$REST_PORT
plugin.path=$PLUGINS
plugin.discovery=only_scan
offset.storage.file.filename=$RUN_DIR/offsets
offset.flush.interval.ms=1000
# Commands are plain JSON envelopes; results are the HttpExchange struct as plain JSON.
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
connector.client.config.override.policy=All
# The sink's batch is its in-flight bound (see PER_TASK above).
consumer.max.poll.records=$PER_TASK
consumer.auto.offset.reset=earliest
producer.linger.ms=5
EOF

# The command envelope {"id","type","payload":{...}} is mapped with JEXL expressions (the
# connector's JEXL request mapper): the type picks the vendor path, the payload's fields and
# the token become the form body, and the command id travels as X-Request-ID so that the
# harness can match the HTTP exchange written back to the results topic.
V='sinkRecord.value()'
P="$V.payload"
URL_EXPR="'$VENDOR/sdkapi/v2/' + {'RoomUpdate': 'room/update', 'RoomRead': 'room/read', 'RoomList': 'room/list'}[$V.type]"
BODY_EXPR="'token=$TOKEN'"
for field in room_id topic; do
  BODY_EXPR+=" + ($P.$field != null ? '&$field=' + $P.$field : '')"
done
HEADERS_EXPR="{'Content-Type': ['application/x-www-form-urlencoded', ...], 'X-Request-ID': [$V.id, ...]}"

cat >"$RUN_DIR/sink.properties" <<EOF
# Generated by bench/connect/run_sut.sh
name=$GROUP-http-sink
connector.class=io.github.clescot.kafka.connect.http.sink.HttpSinkConnector
tasks.max=$TASKS
topics=$COMMANDS
consumer.override.group.id=$GROUP
http.request.mapper.default.mode=JEXL
http.request.mapper.default.url=$URL_EXPR
http.request.mapper.default.method='POST'
http.request.mapper.default.body=$BODY_EXPR
http.request.mapper.default.headers=$HEADERS_EXPR
# okhttp: as many concurrent calls and pooled connections as the in-flight bound
# (okhttp's own default is 5 per host, and the connector keeps no idle connection).
httpclient.async.fixed.thread.pool.size=$IN_FLIGHT
config.default.okhttp.dispatcher.max.requests=$IN_FLIGHT
config.default.okhttp.dispatcher.max.requests.per.host=$IN_FLIGHT
config.default.okhttp.connection.pool.max.idle.connections=$IN_FLIGHT
config.default.okhttp.connection.pool.keep.alive.duration=60000
config.default.okhttp.interceptor.logging.activate=false
# No rate limiter and no retry policy configured: like the harness's other SUTs in this
# scenario (rate limit off), and retries are not part of the baseline.
# Publish every HTTP exchange to the in-memory queue that the source connector drains.
publish.mode=IN_MEMORY_QUEUE
wait.time.registration.queue.consumer.in.ms=30000
poll.delay.registration.queue.consumer.in.ms=200
poll.interval.registration.queue.consumer.in.ms=200
errors.tolerance=none
EOF

cat >"$RUN_DIR/source.properties" <<EOF
# Generated by bench/connect/run_sut.sh
name=$GROUP-http-exchanges
connector.class=$SOURCE_CLASS
tasks.max=1
success.topic=$RESULTS
error.topic=$RESULTS
content=exchange
EOF

cat >"$RUN_DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="$RUN_DIR/connect.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="connect: %p %m (%c{1})%n"/>
      <ThresholdFilter level="ERROR"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="file"/><AppenderRef ref="stderr"/></Root>
    <Logger name="org.apache.kafka.connect.runtime.Worker" level="INFO"/>
  </Loggers>
</Configuration>
EOF

# -XX:-BytecodeVerificationRemote: the connector's sink task links a class (PublishConfigurer)
# whose bytecode names Confluent Schema Registry types; they are "provided" jars that only a
# Confluent Platform image has and that are not on Maven Central. With verification on, the
# task dies at start with NoClassDefFoundError even though the publish mode used here
# (IN_MEMORY_QUEUE) never calls them; with it off they are only resolved if called.
exec java -Xms128m "-Xmx${CONNECT_HEAP:-512m}" -XX:+UseG1GC \
  -XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote -Djava.awt.headless=true \
  "-Dlog4j2.configurationFile=$RUN_DIR/log4j2.xml" -cp "$LIBS/*" \
  org.apache.kafka.connect.cli.ConnectStandalone \
  "$RUN_DIR/worker.properties" "$RUN_DIR/source.properties" "$RUN_DIR/sink.properties"
