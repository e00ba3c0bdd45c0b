#!/usr/bin/env bash
# Runs the appliance from source on its embedded defaults (synthetic camera when there is none, simulated GPIO):
# installs the one system library it needs (libturbojpeg0) when missing, then `dotnet run`. Extra arguments are
# settings, e.g. ./Appliance/run.sh --Camera:Source=file --Camera:File=clip.mjpeg
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! dpkg-query -W -f='${Status}' libturbojpeg0 2>/dev/null | grep -q "install ok installed"; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: libturbojpeg0 is missing; as root run: apt-get install libturbojpeg0" >&2; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get install -y -q libturbojpeg0 || { "${as_root[@]}" apt-get update -q && "${as_root[@]}" apt-get install -y -q libturbojpeg0; }
fi
exec dotnet run --project "$here/Appliance.csproj" -c Release -- "$@"
