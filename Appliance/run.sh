#!/usr/bin/env bash
# Runs the appliance from source on its embedded defaults (synthetic camera when there is none, simulated GPIO):
# installs the one system library it needs (libturbojpeg0) when missing, builds, then runs it. Extra arguments are
# settings, e.g. ./Appliance/run.sh --Camera:Source=file --Camera:File=clip.mjpeg
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "run.sh: $*" >&2; }
command -v dotnet >/dev/null || { say "the .NET 10 SDK is missing (dotnet is not on PATH); README.md's quick start says how to install it"; exit 1; }
if ! dpkg-query -W -f='${Status}' libturbojpeg0 2>/dev/null | grep -q "install ok installed"; then
  say "installing libturbojpeg0 (the JPEG library the appliance needs)"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "libturbojpeg0 is missing; as root run: apt-get install libturbojpeg0"; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get install -y -q libturbojpeg0 || { "${as_root[@]}" apt-get update -q && "${as_root[@]}" apt-get install -y -q libturbojpeg0; }
fi
# Build first, saying so: the first build restores packages and compiles for a minute or two, and `dotnet run`
# alone prints nothing meanwhile. Errors (and only errors and warnings) are shown as the compiler gives them.
if [ -f "$here/bin/Release/net10.0/Appliance.dll" ]; then
  say "building (quick when nothing changed) …"
else
  say "building the appliance; the first time takes about 2 minutes (it downloads packages and compiles) …"
fi
started=$(date +%s)
if ! dotnet build "$here/Appliance.csproj" -c Release -nologo -v:q -clp:NoSummary; then
  say "the build failed (errors above)"
  exit 1
fi
say "built in $(( $(date +%s) - started )) s; starting (the line 'Ready: open …' says where to point a browser; Ctrl+C stops it)"
exec dotnet run --no-build --project "$here/Appliance.csproj" -c Release -- "$@"
