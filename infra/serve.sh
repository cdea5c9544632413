#!/usr/bin/env bash
# Builds studio and runs the whole platform embedded, in one process, with
# its data under ./data: http://127.0.0.1:8080 (REST under /api/v1,
# GraphQL and subscriptions at /graphql). Extra arguments go to `studio`,
# e.g. `bash infra/serve.sh --config studio.toml`.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/model.sh"
cd "$(repo_root)"

require_build_tools
# Where studio looks for it with the default settings (embedder.model_dir).
fetch_minilm data/models/all-MiniLM-L6-v2
log "building studio (release)"
cargo build --release --locked --bin studio
exec "$CARGO_TARGET_DIR/release/studio" "$@" serve
