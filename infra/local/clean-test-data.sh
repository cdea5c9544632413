#!/usr/bin/env bash
# Deletes what earlier test runs left in the running services: their
# PostgreSQL databases and Kafka topics (each test names its own with a
# `studio_test_`/`studio_e2e_` or `studio-test-`/`studio-e2e-` prefix).
# Run by the test command after `up.sh postgres kafka`.
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
source "$LOCAL_DIR/lib/kafka.sh"

: "${STUDIO_READ_MODEL:?run after eval \"\$(bash infra/local/up.sh postgres kafka)\"}"
psql "$STUDIO_READ_MODEL" -Atc "SELECT datname FROM pg_database WHERE datname ~ '^studio_(e2e|test)_'" |
    while read -r database; do
        psql "$STUDIO_READ_MODEL" -qc "DROP DATABASE IF EXISTS \"$database\""
    done
kafka_delete_topics '^studio-(test|e2e|bench)-.*'
