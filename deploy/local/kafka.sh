#!/usr/bin/env bash
# Apache Kafka, single node in KRaft mode (broker + controller), on 127.0.0.1.
#
#   deploy/local/kafka.sh up      fetch the jars once (mvn, cached), format storage once, start, wait
#   deploy/local/kafka.sh down    stop (data is kept; `rm -rf $EARSHOT_INFRA_DIR/kafka` to reset)
#   deploy/local/kafka.sh status
#
# Jars: org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its dependencies from Maven Central,
# copied into $EARSHOT_CACHE/kafka-$KAFKA_VERSION/libs. Runs on Java 17.
source "$(dirname "$0")/common.sh"

LIBS="$EARSHOT_CACHE/kafka-$KAFKA_VERSION/libs"
DIR="$EARSHOT_INFRA_DIR/kafka"
PIDFILE="$DIR/kafka.pid"

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f "$LOCAL_DIR/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    -Dmaven.repo.local="$EARSHOT_CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  touch "$LIBS/.complete"
}

JAVA_OPTS=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
  -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info
  -Dorg.slf4j.simpleLogger.showDateTime=true)
java_cmd() { java "${JAVA_OPTS[@]}" -cp "$LIBS/*" "$@"; }


configure() {
  mkdir -p "$DIR/data"
  cat >"$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
PROPS
  if [ ! -f "$DIR/data/meta.properties" ]; then
    local cluster; cluster=$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    log "formatting KRaft storage (cluster $cluster)"
    java_cmd kafka.tools.StorageTool format -t "$cluster" -c "$DIR/server.properties" >&2
  fi
}

started() { port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$DIR/kafka.log"; }

up() {
  if alive "$PIDFILE" && port_open "$KAFKA_PORT"; then
    log "already running on 127.0.0.1:$KAFKA_PORT"; return 0
  fi
  fetch
  configure
  log "starting Kafka $KAFKA_VERSION"
  : >"$DIR/kafka.log"
  nohup java "${JAVA_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
    >>"$DIR/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  if ! wait_for 120 "Kafka on 127.0.0.1:$KAFKA_PORT" started; then
    tail -30 "$DIR/kafka.log" >&2; stop_pid "$PIDFILE" kafka; exit 1
  fi
  log "Kafka $KAFKA_VERSION (KRaft) listening on 127.0.0.1:$KAFKA_PORT"
}

case "${1:-up}" in
  up) with_lock kafka up ;;
  down) with_lock kafka stop_pid "$PIDFILE" kafka ;;
  fetch) with_lock kafka fetch ;;
  status) if alive "$PIDFILE" && port_open "$KAFKA_PORT"; then echo "kafka: up 127.0.0.1:$KAFKA_PORT"; else echo "kafka: down"; exit 3; fi ;;
  *) die "usage: $0 up|down|status|fetch" ;;
esac
