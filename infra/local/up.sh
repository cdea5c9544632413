#!/usr/bin/env bash
# Installs what is missing, starts and waits for local services on loopback:
#   eval "$(bash infra/local/up.sh kafka postgres neo4j s3)"   # or: all
# Safe to run again: a service that already answers is left as it is.
# Only `export` lines for the services' addresses go to stdout; everything
# else goes to stderr. See infra/local/README.md.
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"

# Tools that print to stdout (apt, mvn, kafka) must not spoil the exports.
exec 3>&1 1>&2

services="$(expand_services "$@")"
for service in $services; do
    source "$LOCAL_DIR/lib/$service.sh"
    # 3>&-: a service started here must not hold the caller's stdout open,
    # or `$(up.sh ...)` would wait for it to exit.
    with_lock "$service" "${service}_up" 3>&-
done
for service in $services; do
    "${service}_env" >&3
done
