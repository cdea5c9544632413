#!/usr/bin/env bash
# Deletes what earlier test runs left in the running services: their
# PostgreSQL databases and Kafka topics (each test names its own with a
# `studio_test_`/`studio_e2e_` or `studio-test-`/`studio-e2e-` prefix), and
# their Neo4j graphs (`test-`/`e2e-` names; tests clear their own, unless
# they failed). Run by the test command after `up.sh postgres kafka neo4j`.
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
source "$LOCAL_DIR/lib/kafka.sh"
source "$LOCAL_DIR/lib/neo4j.sh"

: "${STUDIO_READ_MODEL:?run after eval \"\$(bash infra/local/up.sh postgres kafka)\"}"
psql "$STUDIO_READ_MODEL" -Atc "SELECT datname FROM pg_database WHERE datname ~ '^studio_(e2e|test)_'" |
    while read -r database; do
        psql "$STUDIO_READ_MODEL" -qc "DROP DATABASE IF EXISTS \"$database\""
    done
kafka_delete_topics '^studio-(test|e2e|bench)-.*'
if neo4j_running; then
    STUDIO_GRAPH_USER="$NEO4J_USER" STUDIO_GRAPH_PASSWORD="$NEO4J_PASSWORD" \
        java -Xmx64m -cp "$NEO4J_HOME/client/classes:$NEO4J_HOME/client/lib/*" \
        BoltCheck "bolt://127.0.0.1:$NEO4J_PORT" \
        "MATCH (n) WHERE n.g STARTS WITH 'test-' OR n.g STARTS WITH 'e2e-'
         CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS" >/dev/null
fi
