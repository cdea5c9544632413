# Shared by infra/local/up.sh and down.sh: where services are installed and
# keep their state, and starting, waiting for and stopping a background
# process through a pid file.

source "$(dirname "${BASH_SOURCE[0]}")/../../lib/common.sh"

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Downloads (jars, compiled launchers) can be thrown away and fetched again;
# state (data, logs, pid files) is what a reset deletes.
SERVICES_DIR="${STUDIO_SERVICES_DIR:-$HOME/.cache/literaryai-studio/services}"
SERVICES_STATE="${STUDIO_SERVICES_STATE:-$HOME/.local/state/literaryai-studio}"
SERVICE_TIMEOUT="${STUDIO_SERVICE_TIMEOUT:-180}"
SERVICES=(kafka postgres neo4j s3)

# expand_services ARG...: the service names, `all` standing for every one.
expand_services() {
    [ $# -gt 0 ] || { log "usage: $0 kafka|postgres|neo4j|s3|all..."; return 1; }
    local arg
    for arg in "$@"; do
        case "$arg" in
            all) printf '%s\n' "${SERVICES[@]}" ;;
            kafka | postgres | neo4j | s3) printf '%s\n' "$arg" ;;
            *) log "unknown service '$arg' (kafka, postgres, neo4j, s3 or all)"; return 1 ;;
        esac
    done | awk '!seen[$0]++'
}

require_java() {
    # javac too: the Neo4j launcher is compiled here.
    command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
}

require_maven() {
    command -v mvn >/dev/null 2>&1 || apt_install maven
}

# maven_fetch POM DIR: the POM's dependencies, as jars in DIR/lib. The pom is
# copied out of the clone first so that Maven writes nothing inside it, and a
# hash of it says whether DIR/lib is already what the pom asks for.
maven_fetch() {
    local pom="$1" dir="$2" sum
    sum="$(sha256sum <"$pom" | cut -d' ' -f1)"
    [ -f "$dir/lib/.pom.sha256" ] && [ "$(cat "$dir/lib/.pom.sha256")" = "$sum" ] && return 0
    require_maven
    log "fetching $(basename "$dir") jars with Maven"
    mkdir -p "$dir"
    cp "$pom" "$dir/pom.xml"
    rm -rf "$dir/lib.new"
    mvn -q -B -Dstyle.color=never -f "$dir/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$dir/lib.new" -DincludeScope=runtime
    echo "$sum" >"$dir/lib.new/.pom.sha256"
    rm -rf "${dir:?}/lib"
    mv "$dir/lib.new" "$dir/lib"
}

# compile_java DIR CLASSPATH SOURCE...: javac SOURCE into DIR, unless the
# sources and classpath are unchanged since the last time.
compile_java() {
    local dir="$1" classpath="$2" sum
    shift 2
    sum="$(cat "$@" <(echo "$classpath") "${classpath%/\*}/.pom.sha256" | sha256sum | cut -d' ' -f1)"
    [ -f "$dir/.sources.sha256" ] && [ "$(cat "$dir/.sources.sha256")" = "$sum" ] && return 0
    log "compiling $(basename -a "$@" | tr '\n' ' ')"
    rm -rf "${dir:?}"
    mkdir -p "$dir"
    javac -nowarn -d "$dir" -cp "$classpath" "$@"
    echo "$sum" >"$dir/.sources.sha256"
}

# pid_running PIDFILE MARKER: the pid in PIDFILE is alive and is ours (its
# command line has MARKER), not a stranger that reused a stale pid.
pid_running() {
    local pid cmdline
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [ -n "$pid" ] || return 1
    # No pipe into `grep -q` here: under pipefail its early exit can fail the
    # check of a live process. (A zombie has an empty command line.)
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
    [[ "$cmdline" == *"$2"* ]]
}

# start_daemon PIDFILE LOGFILE COMMAND...: COMMAND in the background, in a
# session of its own so that it outlives this script and a terminal's ^C.
# The previous log is kept as LOGFILE.1.
start_daemon() {
    local pidfile="$1" logfile="$2"
    shift 2
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
    [ -f "$logfile" ] && mv -f "$logfile" "$logfile.1"
    # setsid execs in place (this shell's background jobs do not lead a
    # process group), so $! is the service's own pid.
    nohup setsid "$@" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

# wait_until NAME LOGFILE ALIVE CHECK: polls the command CHECK until it
# succeeds; fails with the end of LOGFILE if the command ALIVE fails (the
# service died) or SERVICE_TIMEOUT seconds pass first.
wait_until() {
    local name="$1" logfile="$2" alive="$3" check="$4" deadline=$((SECONDS + SERVICE_TIMEOUT))
    until $check >/dev/null 2>&1; do
        # Asked twice, so that a look at the process while it execs cannot
        # count as its death.
        if ! $alive && ! { sleep 0.2 && $alive; }; then
            service_failed "$name" "$logfile" "exited while starting"
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            service_failed "$name" "$logfile" "did not answer within ${SERVICE_TIMEOUT}s"
            return 1
        fi
        sleep 0.5
    done
}

service_failed() {
    local name="$1" logfile="$2" reason="$3" text
    # PostgreSQL's log is readable by root only.
    text="$(cat "$logfile" 2>/dev/null || as_root cat "$logfile" 2>/dev/null || true)"
    # A Java service logs its shutdown after the error that caused it: show
    # the first errors too, not only the end.
    if grep -qE ' (ERROR|FATAL) |^Exception' <<<"$text"; then
        log "$name $reason; the first errors in $logfile:"
        grep -E -A 2 ' (ERROR|FATAL) |^Exception' <<<"$text" | head -n 12 >&2
    fi
    log "$name $reason; the end of $logfile:"
    tail -n 25 <<<"$text" >&2
}

# stop_pid NAME PIDFILE MARKER: SIGTERM for a clean shutdown, SIGKILL if it
# takes longer than a minute.
stop_pid() {
    local name="$1" pidfile="$2" marker="$3" pid
    if ! pid_running "$pidfile" "$marker"; then
        rm -f "$pidfile"
        log "$name is not running"
        return 0
    fi
    pid="$(cat "$pidfile")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
        pid_running "$pidfile" "$marker" || break
        sleep 0.5
    done
    if pid_running "$pidfile" "$marker"; then
        log "$name did not stop within 60s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$pidfile"
}

# with_lock SERVICE COMMAND...: one up or down of a service at a time. The
# lock's descriptor is closed for COMMAND's children, so that a started
# service does not hold it for as long as it runs. COMMAND runs outside any
# condition so that `set -e` still stops it at its first failure.
with_lock() {
    local service="$1" fd
    shift
    mkdir -p "$SERVICES_STATE/$service"
    exec {fd}>"$SERVICES_STATE/$service/.lock"
    flock "$fd"
    "$@" {fd}>&-
    exec {fd}>&-
}
