#!/usr/bin/env bash
# Runs every fuzz target of the document readers and the analyser briefly
# (FUZZ_SECONDS each, 10 by default) from its seed corpus: a smoke run that
# catches a crash a parser change brings, not a fuzzing campaign. For a long
# run: cd analysis/extract && cargo +nightly fuzz run <target>.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$(repo_root)/analysis/extract"

require_build_tools
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
# libFuzzer's instrumentation needs nightly compiler flags: a nightly
# toolchain when there is one, else the stable compiler told to allow them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
seconds="${FUZZ_SECONDS:-10}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $("${fuzz[@]}" list); do
    log "fuzzing $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    # New inputs go to the scratch folder; the committed seeds stay as they are.
    "${fuzz[@]}" run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=0 >"$scratch/$target.log" 2>&1 || {
        tail -n 40 "$scratch/$target.log" >&2
        log "fuzz target $target failed: the crashing input is under analysis/extract/fuzz/artifacts/$target"
        exit 1
    }
done
log "every fuzz target ran ${seconds}s without a crash"
