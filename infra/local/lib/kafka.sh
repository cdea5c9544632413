# Apache Kafka, one node that is both broker and controller (KRaft), from
# Maven Central's jars. kcat, from Debian, checks that it answers (and is
# there for tests that look at records and their headers).

KAFKA_PORT="${STUDIO_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${STUDIO_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HOME="$SERVICES_DIR/kafka"
KAFKA_STATE="$SERVICES_STATE/kafka"
KAFKA_PID="$KAFKA_STATE/kafka.pid"
KAFKA_LOG="$KAFKA_STATE/kafka.log"
# On the java command line, so that a pid is known to be ours.
KAFKA_MARKER="-Dstudio.service=kafka"

# Kafka's command-line tools (formatting storage, deleting topics).
KAFKA_TOOL=(java -Xmx256m -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" -cp "$KAFKA_HOME/lib/*")
# The broker, with the JVM settings of Kafka's own start script
# (kafka-run-class.sh): G1's default pause goal (200 ms) would show in
# every command's p99. The GC log is kept: under load on two cores G1's
# pauses stretched to 80 to 360 ms (docs/benchmarks.md); ZGC had none, but
# two CI runs with ZGC (and 200 ms fetch waits in the clients) failed to
# recover from a broker restart under load. That stall later came on G1
# too (pending offsets, docs/benchmarks.md); ZGC was not tried again since.
KAFKA_BROKER=(java -Xms768m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    "-Xlog:gc:file=$KAFKA_STATE/gc.log:time,uptime:filecount=2,filesize=10m"
    -Djava.awt.headless=true "$KAFKA_MARKER"
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" -cp "$KAFKA_HOME/lib/*")
# STUDIO_KAFKA_CPUS (a taskset list, such as 0) keeps the broker on those
# cores: on a small machine, a broker with a core of its own, as it would
# have a machine of its own in production.
KAFKA_CPUS="${STUDIO_KAFKA_CPUS:-}"

kafka_install() {
    require_java
    command -v kcat >/dev/null 2>&1 || apt_install kcat
    maven_fetch "$LOCAL_DIR/kafka/pom.xml" "$KAFKA_HOME"
    cp "$LOCAL_DIR/kafka/log4j2.properties" "$KAFKA_HOME/log4j2.properties"
}

# Written at every start, so that a changed port takes effect.
kafka_config() {
    cat >"$KAFKA_STATE/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_STATE/data

# One node: every internal topic has one replica, or transactions and
# consumer groups wait forever for replicas that will never exist.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions than the default 50, so that the first consumer group or
# transaction does not wait for 50 partitions to be created on two cores.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8

# Topics are created on purpose, with their own retention (retention.ms=-1
# for the topics kept forever); this default is for anything else.
auto.create.topics.enable=false
num.partitions=1
log.retention.hours=168
group.initial.rebalance.delay.ms=0
CONF
}

kafka_answers() {
    # A real metadata request, answered once the broker is registered and
    # unfenced.
    kcat -L -b "127.0.0.1:$KAFKA_PORT" -m 5 2>/dev/null | grep -q '^ *broker 1 at'
}

kafka_start() {
    mkdir -p "$KAFKA_STATE"
    kafka_config
    if [ ! -f "$KAFKA_STATE/data/meta.properties" ]; then
        log "formatting Kafka storage"
        local cluster_id
        cluster_id="$("${KAFKA_TOOL[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
        # Its output is a dump of the whole configuration: kept, not shown.
        if ! "${KAFKA_TOOL[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
            --config "$KAFKA_STATE/server.properties" >"$KAFKA_STATE/format.log" 2>&1; then
            service_failed kafka "$KAFKA_STATE/format.log" "storage could not be formatted"
            return 1
        fi
    fi
    log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
    local pin=()
    if [ -n "$KAFKA_CPUS" ]; then
        command -v taskset >/dev/null 2>&1 || apt_install util-linux
        pin=(taskset -c "$KAFKA_CPUS")
        log "keeping Kafka on CPUs $KAFKA_CPUS"
    fi
    start_daemon "$KAFKA_PID" "$KAFKA_LOG" "${pin[@]}" "${KAFKA_BROKER[@]}" kafka.Kafka "$KAFKA_STATE/server.properties"
}

kafka_running() {
    pid_running "$KAFKA_PID" "$KAFKA_MARKER"
}

kafka_up() {
    kafka_install
    if ! kafka_running; then
        kafka_start
    fi
    wait_until kafka "$KAFKA_LOG" kafka_running kafka_answers
    log "Kafka answers on 127.0.0.1:$KAFKA_PORT"
}

kafka_down() {
    stop_pid kafka "$KAFKA_PID" "$KAFKA_MARKER"
}

kafka_env() {
    echo "export STUDIO_EVENT_LOG=kafka://127.0.0.1:$KAFKA_PORT"
}

# kafka_delete_topics REGEX: deletes the topics whose names match (the test
# command clears what earlier runs left).
kafka_delete_topics() {
    local topics
    topics="$(kcat -L -b "127.0.0.1:$KAFKA_PORT" -m 10 2>/dev/null |
        sed -n 's/^ *topic "\([^"]*\)".*/\1/p' | grep -E "$1" || true)"
    [ -n "$topics" ] || return 0
    log "deleting $(echo "$topics" | wc -l) topics left by earlier test runs"
    "${KAFKA_TOOL[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
        --delete --topic "$1" >/dev/null
}
