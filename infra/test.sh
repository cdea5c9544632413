#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace,
# with whatever they need installed and started first.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/model.sh"
cd "$(repo_root)"

require_build_tools
require_rust_components
require_free_space 8
# The workspace is built afresh in each clone: incremental caches would
# only pile up in the shared build directory (20 GB seen).
export CARGO_INCREMENTAL=0

log "starting the services the tests run against"
# An assignment, so that a failing start stops the run (set -e).
services=$(bash infra/local/up.sh s3 postgres kafka neo4j)
eval "$services"
bash infra/local/clean-test-data.sh
# The embedding model, shared by every checkout like the build.
export MINILM_MODEL_DIR="${MINILM_MODEL_DIR:-$HOME/.cache/literaryai-studio/models/all-MiniLM-L6-v2}"
fetch_minilm "$MINILM_MODEL_DIR"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked
log "the end-to-end tests again, on the production stack: the log on Kafka, the read model on PostgreSQL"
E2E_KAFKA_URL="$STUDIO_EVENT_LOG" E2E_POSTGRES_URL="$STUDIO_READ_MODEL" cargo test --locked --test e2e
log "restarting Kafka under load (alone: it stops the broker every other test uses)"
cargo test --locked --test kafka -- --ignored
log "fuzzing the document readers briefly"
bash infra/fuzz.sh
log "all tests passed"
