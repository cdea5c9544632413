#!/usr/bin/env bash
# Stops local services started by up.sh: down.sh kafka|postgres|neo4j|s3|all...
# Their data stays (see infra/local/README.md to reset it); stopping a
# stopped service is fine.
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"

services="$(expand_services "$@")"
for service in $services; do
    source "$LOCAL_DIR/lib/$service.sh"
    with_lock "$service" "${service}_down"
done
