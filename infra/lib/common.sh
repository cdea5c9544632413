# Shared by the scripts under infra/: where the build goes, and installing
# what is missing on a fresh Debian machine (as root, or through sudo).

repo_root() {
    cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

# One target directory shared by every checkout and CI run on the machine,
# outside the clone, so that a fresh clone does not rebuild the world.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/literaryai-studio/target}"

log() {
    printf '\033[1m==> %s\033[0m\n' "$*" >&2
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*"
        return 1
    fi
}

apt_updated=0
# apt_install PACKAGE...: installs the Debian packages that are missing.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    if [ "$apt_updated" = 0 ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The Rust toolchain is a prerequisite; the C toolchain builds bundled
# SQLite; protoc builds LanceDB's file format (lance-encoding).
require_build_tools() {
    if ! command -v cargo >/dev/null 2>&1; then
        log "cargo is missing: install Rust (https://rustup.rs) first"
        exit 1
    fi
    command -v cc >/dev/null 2>&1 || apt_install build-essential
    command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
    command -v protoc >/dev/null 2>&1 || apt_install protobuf-compiler
}

# A full disk shows up later as a broker or database that dies in the
# middle of a test; it is said plainly first. The build (LanceDB's
# dependencies are large) and the services' data want about this much.
require_free_space() {
    local need_gb="${1:-8}" free_kb
    mkdir -p "$CARGO_TARGET_DIR"
    free_kb="$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')"
    if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
        log "only $((free_kb / 1024 / 1024)) GB free for $CARGO_TARGET_DIR; the build and the services need about $need_gb GB"
        log "free some space first (the build directory alone can be emptied: rm -rf \"$CARGO_TARGET_DIR\")"
        exit 1
    fi
}

require_rust_components() {
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            log "adding the Rust component $component"
            rustup component add "$component"
        fi
    done
}
