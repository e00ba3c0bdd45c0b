#!/usr/bin/env bash
# Installs (or upgrades) the Appliance or the Relay from the unpacked tarball this script sits in.
# Run as root on the Pi (or the VPS):   sudo ./install.sh
#
#   --prefix DIR     install under DIR instead of / (also DESTDIR=DIR); skips user creation and chown
#   --no-apt         do not apt-get install libturbojpeg0
#   --no-systemctl   do not daemon-reload, enable or start the unit
#
# Safe to run again for upgrades: the binary and unit are replaced; /etc/<name> settings and /var/lib/<name>
# state are kept. Layout: /opt/<name>/ (binary), /etc/<name>/ (settings; secrets.json 0640 root:<name>),
# /var/lib/<name>/ (state), /etc/systemd/system/<name>.service.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${DESTDIR:-}"
apt=1
systemctl=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --no-apt) apt=0; shift ;;
    --no-systemctl) systemctl=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
prefix="${prefix%/}"

if [ -x "$here/Appliance" ]; then name=appliance; binary=Appliance
elif [ -x "$here/Relay" ]; then name=relay; binary=Relay
else echo "install.sh: no Appliance or Relay binary next to this script ($here)" >&2; exit 66; fi

if [ -z "$prefix" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root: sudo $0 $*" >&2; exit 77
fi
say() { echo "install.sh: $*"; }

# 1. Packages. libturbojpeg0 encodes and decodes every frame; ffmpeg is optional.
if [ "$name" = appliance ] && [ "$apt" = 1 ]; then
  if ! dpkg-query -W -f='${Status}' libturbojpeg0 2>/dev/null | grep -q "install ok installed"; then
    say "installing libturbojpeg0"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libturbojpeg0
  fi
  command -v ffmpeg >/dev/null || say "ffmpeg is not installed; it is optional (sudo apt install ffmpeg)"
fi

# 2. The service user: appliance (with the device groups) or relay.
owner=root
if [ "$name" = relay ] && [ -z "$prefix" ]; then
  # Installs before 2026-12-02 ran the relay as a DynamicUser, which systemd also calls "relay" while it runs: stop
  # it first, or useradd would find that user and the new unit's User=relay would not exist once it stopped.
  if [ "$systemctl" = 1 ] && grep -qs '^DynamicUser=yes' /etc/systemd/system/relay.service \
     && systemctl is-active --quiet relay.service; then
    say "stopping the relay to move it from a dynamic user to the relay user"
    systemctl stop relay.service
  fi
  getent -s files group relay >/dev/null || groupadd --system relay
  if ! getent -s files passwd relay >/dev/null; then
    say "creating user relay"
    useradd --system --gid relay --home-dir /var/lib/relay --no-create-home --shell /usr/sbin/nologin \
      --comment "Relay service" relay
  fi
  owner=relay
elif [ "$name" = appliance ] && [ -z "$prefix" ]; then
  for group in video gpio i2c; do
    getent group "$group" >/dev/null || { say "creating group $group"; groupadd --system "$group"; }
  done
  getent group appliance >/dev/null || groupadd --system appliance
  if ! id appliance >/dev/null 2>&1; then
    say "creating user appliance"
    useradd --system --gid appliance --home-dir /var/lib/appliance --no-create-home --shell /usr/sbin/nologin \
      --comment "Appliance service" appliance
  fi
  usermod -a -G video,gpio,i2c appliance
  owner=appliance
elif [ -n "$prefix" ]; then
  say "installing under $prefix: no user or group created, files stay owned by $(id -un)"
fi
chown_to() { [ -z "$prefix" ] && chown "$@" || true; }

# 3. The binary: written beside the old one and renamed over it, so a running service is not disturbed.
opt="$prefix/opt/$name"
install -d -m 755 "$opt"
install -m 755 "$here/$binary" "$opt/.$binary.new" && mv -f "$opt/.$binary.new" "$opt/$binary"
for file in README.md VERSION "$name.json.example" appsettings.json; do
  if [ -f "$here/$file" ]; then install -m 644 "$here/$file" "$opt/$file"; fi
done
# Native libraries the single-file binary loads from its own directory (the relay's SQLite).
for native in "$here"/*.so; do
  if [ -f "$native" ]; then install -m 644 "$native" "$opt/$(basename "$native")"; fi
done

# 4. Settings: created once, never overwritten. secrets.json: root writes it, the service's group reads it.
etc="$prefix/etc/$name"
install -d -m 750 "$etc" && chown_to "root:$owner" "$etc"
install -m 644 "$here/$name.json.example" "$etc/$name.json.example"
if [ ! -f "$etc/$name.json" ]; then
  say "creating $etc/$name.json (see $name.json.example beside it for every key)"
  printf '// Your settings; every key with its default is in %s.json.example. Comments are allowed.\n{\n}\n' "$name" > "$etc/$name.json"
  chmod 644 "$etc/$name.json"
fi
if [ "$name" = relay ]; then
  # relay.json holds the appliances' secrets and the admin password: root writes it, the service's group reads it.
  chmod 640 "$etc/$name.json" && chown_to "root:$owner" "$etc/$name.json"
fi
if [ "$name" = appliance ]; then
  if [ ! -f "$etc/secrets.json" ]; then
    printf '// Passwords and keys, e.g. { "Web": { "Password": "…" }, "WeCom": { "Secret": "…" } }\n{\n}\n' > "$etc/secrets.json"
  fi
  chmod 640 "$etc/secrets.json" && chown_to "root:$owner" "$etc/secrets.json"
fi

# 5. State (the relay's is created by systemd: StateDirectory=relay).
if [ "$name" = appliance ]; then
  install -d -m 750 "$prefix/var/lib/$name" && chown_to "$owner:$owner" "$prefix/var/lib/$name"
fi

# 6. The unit.
install -d -m 755 "$prefix/etc/systemd/system"
install -m 644 "$here/$name.service" "$prefix/etc/systemd/system/$name.service"
if [ "$systemctl" = 1 ] && [ -z "$prefix" ]; then
  systemctl daemon-reload
  systemctl enable "$name.service" >/dev/null 2>&1
  if systemctl is-active --quiet "$name.service"; then
    say "restarting $name (upgrade)"; systemctl restart "$name.service" || true
  else
    say "starting $name"; systemctl start "$name.service" || true
  fi
  if systemctl is-active --quiet "$name.service"; then
    say "$name is running: $(systemctl show -p StatusText --value "$name.service")"
  else
    say "$name did not start. See: journalctl -u $name -n 50; and run: sudo -u $owner $opt/$binary doctor" >&2
    exit 1
  fi
else
  say "not touching systemd (--no-systemctl or --prefix); enable with: systemctl daemon-reload && systemctl enable --now $name"
fi
say "done: $opt/$binary, settings in $etc, unit $prefix/etc/systemd/system/$name.service"
