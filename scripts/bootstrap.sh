#!/usr/bin/env bash
# Creates .venv and installs everything the project needs on this machine.
# Idempotent: a stamp keyed by pyproject.toml and this script skips a finished install.
#   scripts/bootstrap.sh           runtime + builder (torch 2.14.1 + torchvision 0.29.1 from local disk)
#   scripts/bootstrap.sh --test    also test tools, Chromium and systemd-analyze (Debian)
#   scripts/bootstrap.sh --app     the appliance runtime only, no torch, into .venv-app (scripts/demo)
#   scripts/bootstrap.sh --app --report FILE   resolve --app's set only (pip --dry-run --report)
set -euo pipefail
cd "$(dirname "$0")/.."

WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1

log() { echo "[bootstrap] $*" >&2; }
# pip's exit status is kept; only its noise about this machine's unused local indexes goes.
quiet_pip() {
    "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# The appliance runtime: what the box runs (tests/test_install_sets.py resolves this very
# set and fails on torch, torchvision, triton or nvidia-*). OpenVINO runs the demo's
# pre-built toy bundle (edge_app/data/toy-shapes).
APP_EXTRAS="openvino"
if [ "${1:-}" = "--app" ]; then
    if [ "${2:-}" = "--report" ]; then
        quiet_pip "${PYTHON:-python3}" -m pip install -q --dry-run --ignore-installed \
            --report "$3" -e ".[$APP_EXTRAS]"
        exit
    fi
    [ -x .venv-app/bin/python ] || { log "creating .venv-app"; "${PYTHON:-python3}" -m venv .venv-app; }
    APP_STAMP=".venv-app/.installed-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
    if [ ! -f "$APP_STAMP" ]; then
        log "installing the appliance runtime [$APP_EXTRAS] into .venv-app (no torch)"
        # --no-compile: Python compiles what the demo imports on first use (~10 s less here)
        quiet_pip .venv-app/bin/python -m pip install -q --no-compile -e ".[$APP_EXTRAS]"
        rm -f .venv-app/.installed-*
        touch "$APP_STAMP"
    fi
    exit
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "${PYTHON:-python3}" -m venv .venv
fi
pip_install() {
    quiet_pip .venv/bin/python -m pip install -q "$@"
}
STAMP=".venv/.installed-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)-$WANT_TEST"

if [ ! -f "$STAMP" ]; then
    # torch and torchvision pinned together, first: this machine's disk holds the wheels of
    # torch 2.14.1 and torchvision 0.29.1 (a CUDA build, ~5.5 GB in the venv, runs on the CPU)
    # and pip takes both from there; an unpinned torch would download gigabytes of CUDA. The
    # CPU-only torch 2.13.0 on disk has no matching torchvision (PyPI's 0.28 fails beside it:
    # "operator torchvision::nms does not exist"), and open_clip's MobileCLIP (timm FastViT)
    # imports torchvision.
    log "installing torch==2.14.1 torchvision==0.29.1"
    pip_install torch==2.14.1 torchvision==0.29.1
    extras="onnx,openvino,ocr,cluster,faces"  # cluster: ray[data] for edge-build pack and its tests
    [ "$WANT_TEST" = 1 ] && extras="$extras,test"
    log "installing the project with extras [$extras] and the builder's needs"
    pip_install -e ".[$extras]"
    # The `build` extra (open-clip-torch, timm, torchvision...: their deps resolve to the
    # torch/torchvision installed above), less cn-clip, installed below without its deps.
    build_deps=$(.venv/bin/python - <<'PY'
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["build"]
print(" ".join(d for d in deps if not d.startswith("cn-clip")))
PY
)
    pip_install torch==2.14.1 torchvision==0.29.1 $build_deps
    # rapidocr (PP-OCRv6, the default) and rapidocr-onnxruntime (PP-OCRv4), both Apache-2.0,
    # are only sources of the PP-OCR model files that `edge-build export --ocr` copies; their
    # deps would pull the non-headless opencv-python.
    # cn-clip: Chinese-CLIP's BERT vocabulary (cn_clip/clip/vocab.txt) and reference
    # tokenizer; its metadata pins lmdb and other packages the builder never imports.
    pip_install --no-deps tensorrt-stubs rapidocr-onnxruntime==1.4.4 rapidocr==3.10.0 cn-clip
    rm -f .venv/.installed-*
    touch "$STAMP"
fi

if [ "$WANT_TEST" = 1 ]; then
    need=()
    [ -x /usr/bin/chromium ] || need+=(chromium)
    command -v systemd-analyze >/dev/null || need+=(systemd)
    command -v mkfs.vfat >/dev/null || need+=(dosfstools)
    command -v udevadm >/dev/null || need+=(udev)
    command -v npm >/dev/null || need+=(npm)
    # Real fonts for the OCR tests: Latin words in DejaVu, Chinese in Noto CJK.
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need+=(fonts-dejavu-core)
    [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
    if [ "${#need[@]}" -gt 0 ]; then
        log "installing Debian packages: ${need[*]}"
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        fi
    fi
fi
if [ "$WANT_TEST" = 1 ] && [ ! -f .cache/node/node_modules/axe-core/axe.min.js ]; then
    # axe-core (npm) is injected into pages by tests/webui/test_e2e_phone_a11y.py
    log "installing axe-core into .cache/node"
    mkdir -p .cache/node
    npm install --no-save --no-audit --no-fund --prefix .cache/node axe-core@4.14.1 >/dev/null
fi
log "ready: $(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
