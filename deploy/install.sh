#!/usr/bin/env bash
# Install edgemood as a systemd service on a Raspberry Pi (Raspberry Pi OS 64-bit) or a Jetson.
#
#   sudo deploy/install.sh                 # from a checkout of this repository
#   sudo MODEL_DIR=/path/to/model deploy/install.sh
#
# Sets up a virtual environment with the device runtime only (no torch, no transformers), puts
# the unit and an example config in place, creates the edgemood user and enables the service.
# Environment: PREFIX (default /opt/edgemood), PYTHON (default python3), MODEL_DIR (a model
# directory to install instead of the bundled model), NO_START=1 (install but do not start).
set -euo pipefail

PREFIX=${PREFIX:-/opt/edgemood}
PYTHON=${PYTHON:-python3}
SRC=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v systemctl >/dev/null || die "systemd is required"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$PYTHON is older than 3.10 (JetPack 5 ships 3.8: install python3.10 or newer)"

echo "== virtual environment in $PREFIX/venv"
"$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/venv/bin/pip" install --quiet "$SRC[serve]"
if "$PREFIX/venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") or u.find_spec("transformers")))'; then
    die "torch or transformers ended up in the runtime environment; refusing to continue"
fi

echo "== user, config, models"
id edgemood >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edgemood --no-create-home \
    --shell /usr/sbin/nologin edgemood
install -d -m 0755 /etc/edgemood
if [ ! -e /etc/edgemood/config.toml ]; then
    install -m 0644 "$SRC/deploy/config.toml" /etc/edgemood/config.toml
else
    echo "keeping the existing /etc/edgemood/config.toml"
fi
if [ -n "${MODEL_DIR:-}" ]; then
    [ -f "$MODEL_DIR/model.json" ] || die "$MODEL_DIR is not a model directory (no model.json)"
    install -d -m 0755 "$PREFIX/models"
    rm -rf "$PREFIX/models/model"
    cp -r "$MODEL_DIR" "$PREFIX/models/model"
    chmod -R a+rX "$PREFIX/models"
    echo "set  model = \"$PREFIX/models/model\"  in /etc/edgemood/config.toml to use it"
fi

echo "== systemd unit"
sed "s|/opt/edgemood|$PREFIX|g" "$SRC/deploy/edgemood.service" > /etc/systemd/system/edgemood.service
chmod 0644 /etc/systemd/system/edgemood.service
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /etc/systemd/system/edgemood.service
fi
systemctl daemon-reload
if [ "${NO_START:-0}" = 1 ]; then
    systemctl enable edgemood.service
else
    systemctl enable --now edgemood.service
    systemctl --no-pager status edgemood.service | head -n 5 || true
fi
echo "== done: curl http://127.0.0.1:8377/healthz ; logs: journalctl -u edgemood -f"
