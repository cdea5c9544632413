# Neo4j Community 5.26 from Maven Central's jars, embedded in a small
# launcher (infra/local/neo4j/Launcher.java) that turns Bolt on and sets the
# credentials; a query through the Java driver (BoltCheck.java) tells when it
# answers.

NEO4J_PORT="${STUDIO_NEO4J_PORT:-7687}"
NEO4J_USER="${STUDIO_GRAPH_USER:-neo4j}"
NEO4J_PASSWORD="${STUDIO_GRAPH_PASSWORD:-studio-graph-password}"
NEO4J_HOME="$SERVICES_DIR/neo4j"
NEO4J_STATE="$SERVICES_STATE/neo4j"
NEO4J_PID="$NEO4J_STATE/neo4j.pid"
NEO4J_LOG="$NEO4J_STATE/neo4j.log"
NEO4J_MARKER="-Dstudio.service=neo4j"

neo4j_install() {
    require_java
    maven_fetch "$LOCAL_DIR/neo4j/pom.xml" "$NEO4J_HOME"
    maven_fetch "$LOCAL_DIR/neo4j/client/pom.xml" "$NEO4J_HOME/client"
    compile_java "$NEO4J_HOME/classes" "$NEO4J_HOME/lib/*" "$LOCAL_DIR/neo4j/Launcher.java"
    compile_java "$NEO4J_HOME/client/classes" "$NEO4J_HOME/client/lib/*" \
        "$LOCAL_DIR/neo4j/client/BoltCheck.java"
}

neo4j_running() {
    pid_running "$NEO4J_PID" "$NEO4J_MARKER"
}

neo4j_query() {
    STUDIO_GRAPH_USER="$NEO4J_USER" STUDIO_GRAPH_PASSWORD="$NEO4J_PASSWORD" \
        java -Xmx64m -cp "$NEO4J_HOME/client/classes:$NEO4J_HOME/client/lib/*" \
        BoltCheck "bolt://127.0.0.1:$NEO4J_PORT"
}

neo4j_answers() {
    # The launcher's line first, so that the query (a JVM start of its own)
    # is not tried every half second while Neo4j starts.
    grep -q 'studio-neo4j: ready' "$NEO4J_LOG" && neo4j_query
}

neo4j_start() {
    mkdir -p "$NEO4J_STATE"
    log "starting Neo4j on 127.0.0.1:$NEO4J_PORT"
    # The JVM flags are those of Neo4j's own neo4j.conf that matter here.
    STUDIO_NEO4J_HOME="$NEO4J_STATE" STUDIO_NEO4J_PORT="$NEO4J_PORT" \
        STUDIO_GRAPH_USER="$NEO4J_USER" STUDIO_GRAPH_PASSWORD="$NEO4J_PASSWORD" \
        start_daemon "$NEO4J_PID" "$NEO4J_LOG" \
        java -Xms256m -Xmx1g -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow "$NEO4J_MARKER" \
        -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true \
        -Dlog4j2.disable.jmx=true \
        --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        -cp "$NEO4J_HOME/classes:$NEO4J_HOME/lib/*" Launcher
}

neo4j_up() {
    neo4j_install
    if ! neo4j_running; then
        neo4j_start
    fi
    wait_until neo4j "$NEO4J_LOG" neo4j_running neo4j_answers
    log "Neo4j answers on 127.0.0.1:$NEO4J_PORT"
}

neo4j_down() {
    stop_pid neo4j "$NEO4J_PID" "$NEO4J_MARKER"
}

neo4j_env() {
    echo "export STUDIO_GRAPH=bolt://127.0.0.1:$NEO4J_PORT"
    # Quoted for the shell that evals these lines.
    printf 'export STUDIO_GRAPH_USER=%q\n' "$NEO4J_USER"
    printf 'export STUDIO_GRAPH_PASSWORD=%q\n' "$NEO4J_PASSWORD"
}
