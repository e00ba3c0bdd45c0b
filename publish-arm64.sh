#!/usr/bin/env bash
# Builds the install tarballs: a self-contained, single-file, trimmed Appliance (and Relay) with its systemd unit,
# a commented default configuration and install.sh.
#
#   ./publish-arm64.sh                      # linux-arm64 (Raspberry Pi OS 64-bit)
#   ./publish-arm64.sh --rid linux-x64      # another RID (CI uses linux-x64); or RID=linux-x64 ./publish-arm64.sh
#   ./publish-arm64.sh --only appliance     # or --only relay
#   ./publish-arm64.sh --out DIR            # default artifacts/publish
#   ./publish-arm64.sh --no-r2r             # no ReadyToRun: half the size (~21 MB), but ~10x slower start (JIT)
#
# Prints the tarball paths. Trim analysis warnings fail the build (TreatWarningsAsErrors applies to ILLink).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rid="${RID:-linux-arm64}"
out="$root/artifacts/publish"
only=""
r2r=true
while [ $# -gt 0 ]; do
  case "$1" in
    --rid) rid="$2"; shift 2 ;;
    --rid=*) rid="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --no-r2r) r2r=false; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "publish-arm64.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
case "$rid" in linux-*) ;; *) echo "publish-arm64.sh: '$rid' is not a Linux RID (linux-arm64, linux-x64 …)" >&2; exit 64 ;; esac
version="$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)"
mkdir -p "$out"

publish() { # publish PROJECT LOWERNAME
  local project="$1" name="$2" stage="$out/stage/$2-$rid" log="$out/$2-$rid.publish.log"
  rm -rf "$stage" && mkdir -p "$stage"
  echo "== publishing $project for $rid" >&2
  if ! dotnet publish "$root/$project/$project.csproj" -c Release -r "$rid" --self-contained \
      -p:PublishSingleFile=true -p:PublishTrimmed=true -p:TrimmerSingleWarn=false -p:PublishReadyToRun=$r2r \
      -p:EnableCompressionInSingleFile=false -p:DebugType=none -p:SatelliteResourceLanguages=en \
      -p:InformationalVersion="$version" -o "$stage/bin" -nologo >"$log" 2>&1; then
    if grep -q 'NU1101\|NU1102' "$log"; then
      echo "publish-arm64.sh: the .NET runtime packs for $rid cannot be restored from this machine's NuGet source(s):" >&2
      grep -o 'Unable to find package [^ ]*' "$log" | sort -u | sed 's/^/  /' >&2
      echo "  These packs (Microsoft.NETCore.App.Runtime.$rid, Microsoft.AspNetCore.App.Runtime.$rid," >&2
      echo "  Microsoft.NETCore.App.Host.$rid; for ReadyToRun also Microsoft.NETCore.App.Crossgen2.<this machine's RID>)" >&2
      echo "  live on nuget.org. Run this script where https://api.nuget.org is" >&2
      echo "  reachable (any x64 PC or the Pi itself), or add a feed that mirrors them to NuGet.Config." >&2
      exit 69
    fi
    cat "$log" >&2
    echo "publish-arm64.sh: dotnet publish failed for $project ($rid); full log: $log" >&2
    exit 1
  fi
  if grep -E 'warning (IL|CS|CA)[0-9]+' "$log" >&2; then
    echo "publish-arm64.sh: the publish produced warnings (above); fix them (see README, Installing on a Raspberry Pi)" >&2
    exit 1
  fi
  local binary="$stage/bin/$project"
  # Only the single binary (plus appsettings.json for the relay) goes to the Pi; no .pdb or static web assets manifest.
  install -m 755 "$binary" "$stage/$project"
  # Native libraries are not bundled into a single file (the relay's SQLite): they ship beside the binary, where the
  # single-file host looks for them.
  for native in "$stage/bin/"*.so; do
    if [ -f "$native" ]; then install -m 644 "$native" "$stage/"; fi
  done
  if [ -f "$stage/bin/appsettings.json" ]; then install -m 644 "$stage/bin/appsettings.json" "$stage/appsettings.json"; fi
  rm -rf "$stage/bin"
  install -m 644 "$root/systemd/$name.service" "$stage/$name.service"
  install -m 644 "$root/systemd/$name.json.example" "$stage/$name.json.example"
  install -m 755 "$root/systemd/install.sh" "$stage/install.sh"
  install -m 644 "$root/systemd/README.md" "$stage/README.md"
  echo "$version $rid" > "$stage/VERSION"
  local tarball="$out/$name-$rid.tar.gz"
  tar -C "$out/stage" -czf "$tarball" "$name-$rid"
  echo "   $(du -h "$stage/$project" | cut -f1) binary; $tarball" >&2
  echo "$tarball"
}

if [ -z "$only" ] || [ "$only" = appliance ]; then publish Appliance appliance; fi
if [ -z "$only" ] || [ "$only" = relay ]; then publish Relay relay; fi
