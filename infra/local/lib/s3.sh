# An S3-compatible object store: S3Proxy from Maven Central's jars, with its
# filesystem backend under the state directory, path-style requests only and
# AWS signatures (v2 or v4) required. A small standard-library Python client
# (infra/local/s3/s3check.py) signs the requests that tell when it answers
# and creates the bucket, which S3Proxy has no setting for.

S3_PORT="${STUDIO_S3_PORT:-9000}"
S3_ACCESS_KEY="${STUDIO_S3_ACCESS_KEY:-studio}"
S3_SECRET_KEY="${STUDIO_S3_SECRET_KEY:-studio-secret-key}"
S3_BUCKET="${STUDIO_S3_BUCKET:-studio}"
# Any region signs; this is the one printed for clients.
S3_REGION=us-east-1
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
S3_HOME="$SERVICES_DIR/s3"
S3_STATE="$SERVICES_STATE/s3"
S3_PID="$S3_STATE/s3proxy.pid"
S3_LOG="$S3_STATE/s3proxy.log"
S3_CONF="$S3_STATE/s3proxy.conf"
S3_MARKER="-Dstudio.service=s3"

s3_install() {
    require_java
    command -v python3 >/dev/null 2>&1 || apt_install python3
    maven_fetch "$LOCAL_DIR/s3/pom.xml" "$S3_HOME"
    cp "$LOCAL_DIR/s3/logback.xml" "$S3_HOME/logback.xml"
}

# The configuration that the settings ask for. The credentials are in it, so
# it is readable by its owner only; a backslash is an escape in a Java
# properties file, so it is doubled.
s3_config() {
    cat <<CONF
# Written by infra/local/up.sh at every start; a change restarts S3Proxy.
s3proxy.endpoint=$S3_ENDPOINT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3_ACCESS_KEY//\\/\\\\}
s3proxy.credential=${S3_SECRET_KEY//\\/\\\\}
# No s3proxy.virtual-host: bucket names are never taken from the Host header,
# only from the path.
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_STATE/data
CONF
}

s3_running() {
    pid_running "$S3_PID" "$S3_MARKER"
}

s3_client() {
    STUDIO_S3_ENDPOINT="$S3_ENDPOINT" STUDIO_S3_REGION="$S3_REGION" \
        STUDIO_S3_ACCESS_KEY="$S3_ACCESS_KEY" STUDIO_S3_SECRET_KEY="$S3_SECRET_KEY" \
        python3 "$LOCAL_DIR/s3/s3check.py" "$@"
}

s3_answers() {
    # A signed ListBuckets, answered with S3's XML: the server is up and
    # takes these credentials.
    s3_client ping
}

s3_start() {
    mkdir -p "$S3_STATE/data"
    (umask 077 && s3_config >"$S3_CONF")
    log "starting S3Proxy on $S3_ENDPOINT"
    start_daemon "$S3_PID" "$S3_LOG" \
        java -Xms64m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true "$S3_MARKER" \
        -Dlogback.configurationFile="$S3_HOME/logback.xml" \
        -cp "$S3_HOME/lib/*" org.gaul.s3proxy.Main --properties "$S3_CONF"
}

s3_up() {
    s3_install
    if s3_running && [ "$(cat "$S3_CONF" 2>/dev/null)" != "$(s3_config)" ]; then
        log "restarting S3Proxy for its new settings"
        s3_down
    fi
    if ! s3_running; then
        s3_start
    fi
    wait_until s3 "$S3_LOG" s3_running s3_answers
    if ! s3_client ensure-bucket "$S3_BUCKET"; then
        service_failed s3 "$S3_LOG" "could not create the bucket '$S3_BUCKET'"
        return 1
    fi
    log "S3Proxy answers on $S3_ENDPOINT, bucket '$S3_BUCKET'"
}

s3_down() {
    stop_pid s3 "$S3_PID" "$S3_MARKER"
}

s3_env() {
    # Quoted for the shell that evals these lines.
    printf 'export STUDIO_BLOBS=%q\n' "s3://$S3_BUCKET"
    echo "export STUDIO_S3_ENDPOINT=$S3_ENDPOINT"
    printf 'export STUDIO_S3_ACCESS_KEY=%q\n' "$S3_ACCESS_KEY"
    printf 'export STUDIO_S3_SECRET_KEY=%q\n' "$S3_SECRET_KEY"
    echo "export STUDIO_S3_REGION=$S3_REGION"
}
