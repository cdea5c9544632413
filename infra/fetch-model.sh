#!/usr/bin/env bash
# Fetches the embedding model (all-MiniLM-L6-v2) into a folder, by default
# ./data/models/all-MiniLM-L6-v2 (where studio looks with the default
# settings; `embedder_model_dir` points elsewhere). Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/model.sh"
cd "$(repo_root)"
fetch_minilm "${1:-data/models/all-MiniLM-L6-v2}"
