# PostgreSQL from Debian's packages, as a cluster of its own (`studio`, next
# to Debian's `main`) managed with postgresql-common's tools. These run the
# server as the `postgres` OS user (it refuses to run as root) and work
# without systemd. Its data and log are where Debian keeps every cluster's
# (/var/lib/postgresql, /var/log/postgresql), since the `postgres` user cannot
# reach a state directory under root's home.

PG_PORT="${STUDIO_POSTGRES_PORT:-5433}"
PG_CLUSTER=studio

# The newest installed PostgreSQL server (not only its client).
pg_version() {
    local bin
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$bin" ] && basename "$(dirname "$(dirname "$bin")")"
    done | sort -V | tail -n 1
}

pg_install() {
    if [ -z "$(pg_version)" ] || ! command -v pg_createcluster >/dev/null 2>&1; then
        apt_install postgresql
    fi
    PG_VERSION="$(pg_version)"
    PG_LOG="/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
}

# pg_status: online, down, or nothing when the cluster does not exist.
pg_status() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

pg_online() {
    [ "$(pg_status)" = online ]
}

pg_configure() {
    if [ -z "$(pg_status)" ]; then
        log "creating the PostgreSQL $PG_VERSION cluster '$PG_CLUSTER'"
        # manual: started by up.sh, not at boot.
        as_root pg_createcluster --start-conf=manual --port "$PG_PORT" "$PG_VERSION" "$PG_CLUSTER" \
            -- --auth-local=peer --auth-host=scram-sha-256 >&2
    fi
    local changed=0 conf="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/studio.conf" settings
    # The port where postgresql-common's tools read it; the rest in conf.d,
    # since pg_conftool writes an address unquoted, which PostgreSQL rejects.
    if [ "$(pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" show port)" != "$PG_PORT" ]; then
        as_root pg_conftool "$PG_VERSION" "$PG_CLUSTER" set port "$PG_PORT"
        changed=1
    fi
    # Tests run many connection pools side by side.
    settings="# Written by infra/local/up.sh.
listen_addresses = '127.0.0.1'
max_connections = 200"
    if [ "$(cat "$conf" 2>/dev/null)" != "$settings" ]; then
        echo "$settings" | as_root tee "$conf" >/dev/null
        changed=1
    fi
    if [ $changed = 1 ] && pg_online; then
        log "restarting PostgreSQL for its new settings"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    fi
}

pg_answers() {
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
}

pg_studio_login() {
    PGPASSWORD=studio PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U studio -d studio \
        -X -A -t -q -c 'select 1' >/dev/null 2>&1
}

# The role and database the project connects as; CREATEDB because tests
# create databases of their own.
pg_create_studio() {
    log "creating the PostgreSQL role and database 'studio'"
    # From /, which the postgres user can enter, unlike root's home.
    (cd / && as_root runuser -u postgres -- psql -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1) <<'SQL'
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'studio') THEN
        ALTER ROLE studio LOGIN CREATEDB PASSWORD 'studio';
    ELSE
        CREATE ROLE studio LOGIN CREATEDB PASSWORD 'studio';
    END IF;
END
$$;
SELECT 'CREATE DATABASE studio OWNER studio'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'studio')
\gexec
SQL
}

postgres_up() {
    pg_install
    pg_configure
    if ! pg_online; then
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
    fi
    wait_until postgres "$PG_LOG" pg_online pg_answers
    if ! pg_studio_login; then
        pg_create_studio
        pg_studio_login || { log "cannot log in to PostgreSQL as studio"; return 1; }
    fi
    log "PostgreSQL answers on 127.0.0.1:$PG_PORT"
}

postgres_down() {
    PG_VERSION="$(pg_version)"
    if [ -n "$PG_VERSION" ] && pg_online; then
        log "stopping PostgreSQL"
        as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast
    else
        log "postgres is not running"
    fi
}

postgres_env() {
    echo "export STUDIO_READ_MODEL=postgres://studio:studio@127.0.0.1:$PG_PORT/studio"
}
