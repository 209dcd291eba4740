#!/bin/sh
# Installs edge-photo-search from an install kit (made by `edge-build kit` on a host with
# network) on a box with none: nothing is downloaded. Copied into the kit as install.sh.
#   sudo ./install.sh [--prefix /opt/edge-search] [--root /] [--no-enable]
# --prefix: where the project and its .venv go (the systemd unit runs
#           /opt/edge-search/.venv/bin/edge-app); --root: install the system files into
#           another root (an image being prepared); --no-enable: do not enable the service.
# Needs Python $KIT_PYTHON with its venv module (Debian/Ubuntu: python3-venv).
set -eu
KIT=$(cd "$(dirname "$0")" && pwd)
. "$KIT/kit.env"
PREFIX=/opt/edge-search
ROOT=/
NO_ENABLE=
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --root) ROOT=$2; shift 2 ;;
        --no-enable) NO_ENABLE=--no-enable; shift ;;
        *) echo "install.sh: unknown option $1 (see the comment at the top)" >&2; exit 64 ;;
    esac
done
die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "[install] $*"; }

PY=${PYTHON:-python$KIT_PYTHON}
command -v "$PY" >/dev/null || die "$PY not found: this kit is for Python $KIT_PYTHON (set PYTHON=...)"
ARCH=$(uname -m)
WHEELS="$KIT/wheels/$ARCH"
[ -d "$WHEELS" ] || die "this kit has wheels for $KIT_ARCHES, not $ARCH: edge-build kit --arch $ARCH"
(cd "$WHEELS" && sha256sum --quiet --check SHA256SUMS) || die "wheel checksums differ: copy the kit again"

say "unpacking the project into $PREFIX"
mkdir -p "$PREFIX"
tar -xzf "$KIT/edge-search-src.tar.gz" -C "$PREFIX"
say "installing [$KIT_EXTRAS] into $PREFIX/.venv from $WHEELS (no index)"
"$PY" -m venv "$PREFIX/.venv" || die "$PY -m venv failed: install python3-venv from the OS image"
# Only the kit's wheels: no pip config file, no PIP_* variables, no index.
# shellcheck disable=SC2046  # one name per word
unset $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p')
PIP_CONFIG_FILE=/dev/null "$PREFIX/.venv/bin/python" -m pip install --quiet --no-index \
    --disable-pip-version-check --find-links "$WHEELS" -e "$PREFIX[$KIT_EXTRAS]"

say "system files (user, directories, units, udev rule) under $ROOT"
# shellcheck disable=SC2086  # NO_ENABLE is empty or one word
"$PREFIX/.venv/bin/edge-app" install --root "$ROOT" $NO_ENABLE
BUNDLE="$ROOT/var/lib/edge-search/bundle"
if [ -f "$BUNDLE/manifest.json" ]; then
    say "kept the existing engine bundle in $BUNDLE (the kit's is in $KIT/bundle)"
else
    mkdir -p "$(dirname "$BUNDLE")"
    rm -rf "$BUNDLE.partial"
    cp -R "$KIT/bundle" "$BUNDLE.partial"
    mv "$BUNDLE.partial" "$BUNDLE"
    [ "$ROOT" != / ] || chown -R edge-search:edge-search "$BUNDLE"
    say "engine bundle in $BUNDLE"
fi
say "done: $("$PREFIX/.venv/bin/edge-app" --version)"
