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

echo "== authentication and network"
# A config that opens the port (host not loopback) needs a bearer token: the service refuses to
# start without one. Make it (mode 600, owned by the service user) and point the config at it;
# and let the LAN through the unit's IP allow list (loopback only otherwise).
SETTINGS=$("$PREFIX/venv/bin/python" - <<'PY'
import sys
from pathlib import Path
from edgemood.service.auth import is_loopback
from edgemood.service.config import ConfigError, load_config
try:
    c = load_config(Path("/etc/edgemood/config.toml"))
except ConfigError as exc:
    sys.exit(f"install.sh: {exc}")
print("loopback" if is_loopback(c.host) else c.host, c.api_token_file or "-", int(c.insecure_no_auth))
PY
) || exit 1
read -r HOST TOKEN_FILE INSECURE <<< "$SETTINGS"
if [ "$HOST" != loopback ]; then
    if [ "$TOKEN_FILE" = - ] && [ "$INSECURE" = 0 ]; then
        TOKEN_FILE=/etc/edgemood/api-token
        printf '\n# Added by install.sh: host is not loopback, so a token is required.\napi_token_file = "%s"\n' \
            "$TOKEN_FILE" >> /etc/edgemood/config.toml
        echo "host = $HOST: set api_token_file = \"$TOKEN_FILE\" in /etc/edgemood/config.toml"
    fi
    if [ "$TOKEN_FILE" != - ] && [ ! -e "$TOKEN_FILE" ]; then
        "$PREFIX/venv/bin/edgemood" serve --make-token "$TOKEN_FILE"
    fi
    if [ "$TOKEN_FILE" != - ]; then
        chown edgemood:edgemood "$TOKEN_FILE"
        chmod 600 "$TOKEN_FILE"
        echo "clients send: Authorization: Bearer \$(sudo cat $TOKEN_FILE)"
    fi
    install -d -m 0755 /etc/systemd/system/edgemood.service.d
    if [ ! -e /etc/systemd/system/edgemood.service.d/network.conf ]; then
        cat > /etc/systemd/system/edgemood.service.d/network.conf <<'CONF'
# Written by install.sh because config.toml opens the port: the unit allows loopback only.
# Private LAN ranges (IPv4 RFC 1918, IPv6 unique-local and link-local); narrow to your network.
[Service]
IPAddressAllow=10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7 link-local
CONF
        echo "host = $HOST: the unit's IP allow list now takes the private LAN ranges" \
            "(/etc/systemd/system/edgemood.service.d/network.conf)"
    fi
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
