#!/usr/bin/env bash
# Builds the Debian packages: the Appliance compiled ahead of time to native code (Native AOT), the Relay as a
# self-contained, single-file, trimmed program, each with its systemd unit, its settings as a conffile and maintainer
# scripts that create the user, start the service and clean up on purge.
#
#   ./publish-arm64.sh                      # for the Pi: appliance and relay for arm64, and the relay for amd64 (a VPS)
#   ./publish-arm64.sh --rid linux-x64      # both programs for that RID only (CI; x86 boxes); or RID=linux-x64
#   ./publish-arm64.sh --only appliance     # or --only relay
#   ./publish-arm64.sh --out DIR            # default artifacts/publish
#   ./publish-arm64.sh --no-aot             # the appliance as the relay is built (single file, ReadyToRun, JIT): needs
#                                           # no C toolchain, but ~1.7x the memory and ~4x the start time (arm64 guest)
#   ./publish-arm64.sh --no-r2r             # no ReadyToRun for single files: half the size, ~10x slower start (JIT)
#   ./publish-arm64.sh --jobs 1             # packages built at once (default 2; 1 on a Pi with little memory)
#   ./publish-arm64.sh --xz-level 1         # xz level of the .deb (default 6, dpkg's): 1 is 5x faster, 10% larger
#
# Prints the paths of the .deb files, one a line: NAME_VERSION_ARCH.deb (VERSION: Directory.Build.props' <Version>).
# Needs the .NET SDK, dpkg-deb (Debian's dpkg) and, for the appliance's native code, clang (and for another
# architecture its binutils and C library: sudo apt install clang gcc-aarch64-linux-gnu libc6-dev-arm64-cross); nothing
# is downloaded but NuGet packages. Trim and AOT analysis warnings fail the build. Install: sudo apt install ./appliance_….deb
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rids=()
if [ -n "${RID:-}" ]; then rids=("$RID"); fi
out="$root/artifacts/publish"
only=""
r2r=true
aot=true
jobs=2
xz_level=6
while [ $# -gt 0 ]; do
  case "$1" in
    --rid|--out|--only|--jobs|--xz-level)
      [ $# -ge 2 ] || { echo "publish-arm64.sh: $1 needs a value (see --help)" >&2; exit 64; } ;;
  esac
  case "$1" in
    --rid) rids=("$2"); shift 2 ;;
    --rid=*) rids=("${1#*=}"); shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --no-r2r) r2r=false; shift ;;
    --no-aot) aot=false; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --xz-level) xz_level="$2"; shift 2 ;;
    --xz-level=*) xz_level="${1#*=}"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "publish-arm64.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
case "$jobs" in ""|*[!0-9]*|0) echo "publish-arm64.sh: --jobs takes a number of packages to build at once, not '$jobs'" >&2; exit 64 ;; esac
case "$xz_level" in [0-9]) ;; *) echo "publish-arm64.sh: --xz-level takes 0 to 9, not '$xz_level'" >&2; exit 64 ;; esac
case "$only" in ""|appliance|relay) ;; *) echo "publish-arm64.sh: --only takes appliance or relay, not '$only'" >&2; exit 64 ;; esac
# What to build: "Project RID" pairs.
targets=()
if [ ${#rids[@]} -eq 0 ]; then
  targets=("Appliance linux-arm64" "Relay linux-arm64" "Relay linux-x64")
else
  targets=("Appliance ${rids[0]}" "Relay ${rids[0]}")
fi
debian_arch() { # RID -> Debian architecture
  case "$1" in
    linux-arm64) echo arm64 ;;
    linux-x64) echo amd64 ;;
    linux-arm) echo armhf ;;
    *) echo "publish-arm64.sh: '$1' is not a Linux RID with a Debian architecture (linux-arm64, linux-x64, linux-arm)" >&2; exit 64 ;;
  esac
}
for target in "${targets[@]}"; do debian_arch "${target#* }" >/dev/null; done
gnu_triple() { # RID -> the GNU triple of its cross tools (binutils-aarch64-linux-gnu: aarch64-linux-gnu-ld, …)
  case "$1" in linux-arm64) echo aarch64-linux-gnu ;; linux-x64) echo x86_64-linux-gnu ;; linux-arm) echo arm-linux-gnueabihf ;; esac
}
# Native AOT links with the platform's C toolchain: clang, and for another architecture that architecture's linker,
# objcopy and C library (Debian's cross packages; clang finds them by the triple). Checked before anything is built,
# so a missing tool is one clear line, not a linker error at the end of a five-minute compile.
aot_options() { # aot_options RID: the dotnet publish options for the appliance's native code, one a line
  local rid="$1" triple host compiler
  triple="$(gnu_triple "$rid")"
  host="$(gnu_triple "linux-$(case "$(uname -m)" in aarch64) echo arm64 ;; x86_64) echo x64 ;; armv7l) echo arm ;; esac)")"
  compiler="$(command -v clang || compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -n1 || true)"
  if [ -z "$compiler" ]; then
    echo "publish-arm64.sh: the appliance is compiled to native code, which needs clang: sudo apt install clang" >&2
    echo "  (or ./publish-arm64.sh --no-aot for a JIT build that needs no C toolchain)" >&2
    exit 69
  fi
  echo "-p:CppCompilerAndLinker=$(basename "$compiler")"
  if [ "$triple" != "$host" ]; then
    if ! command -v "$triple-ld" >/dev/null || ! command -v "$triple-objcopy" >/dev/null \
        || { [ ! -e "/usr/$triple/lib/crt1.o" ] && [ ! -e "/usr/lib/$triple/crt1.o" ]; }; then
      echo "publish-arm64.sh: linking the appliance for $rid on this $(uname -m) machine needs $triple's binutils and C library:" >&2
      # The C library is only a Recommends of the cross gcc: an apt that leaves those out installs gcc without it.
      echo "  sudo apt install gcc-$triple libc6-dev-$(debian_arch "$rid")-cross   (or ./publish-arm64.sh --no-aot for a JIT build)" >&2
      exit 69
    fi
    echo "-p:ObjCopyName=$triple-objcopy"
  fi
}
if $aot && [ "$only" != relay ]; then
  for target in "${targets[@]}"; do [ "${target% *}" != Appliance ] || aot_options "${target#* }" >/dev/null; done
fi
command -v dpkg-deb >/dev/null || { echo "publish-arm64.sh: dpkg-deb is missing (sudo apt install dpkg)" >&2; exit 69; }
# The one place the version is kept; the binaries carry the same (dotnet reads the same file).
version="$(sed -n 's|.*<Version>\([^<]*\)</Version>.*|\1|p' "$root/Directory.Build.props" | head -n1)"
case "$version" in [0-9]*) ;; *) echo "publish-arm64.sh: no <Version> starting with a digit in Directory.Build.props" >&2; exit 65 ;; esac
mkdir -p "$out"
out="$(cd "$out" && pwd)"

publish() { # publish PROJECT RID DIR: the self-contained binary and what it loads from its own directory, into DIR
  local project="$1" rid="$2" dir="$3" bin="$out/stage/$1-$2.bin" log="$out/$1-$2.publish.log"
  rm -rf "$bin" && mkdir -p "$bin" "$dir"
  echo "== publishing $project for $rid" >&2
  # Its own intermediate directory per RID (--artifacts-path): a publish never rewrites the obj/ that dotnet build,
  # dotnet run and the tests use, so it can run beside them (a restore for a RID and a plain build at once would race on
  # obj/project.assets.json), and the next publish for that RID is incremental.
  # No analyzers (RunAnalyzers=false; source generators still run): they doubled the compile's CPU (Appliance for arm64:
  # 96-105 s against 47-49 s), and the build runs the same ones with warnings as errors, the trim, AOT and single-file
  # analyzers included (IsTrimmable, IsAotCompatible, Relay's EnableSingleFileAnalyzer). The trimmer and the AOT
  # compiler still report their own IL warnings, which fail the publish below.
  # The appliance is native code (Native AOT): for a Pi Zero 2 (512 MB). In the arm64 guest it started in a quarter of
  # the time with 60 % of the memory of the single file with ReadyToRun, whose runtime maps its 50 MB file and
  # JIT-compiles what ReadyToRun leaves out (docs/measurements.md, "Native AOT"). The relay, on a VPS, stays a single file.
  local kind=(-p:PublishSingleFile=true -p:PublishTrimmed=true -p:PublishReadyToRun=$r2r -p:EnableCompressionInSingleFile=false)
  if [ "$project" = Appliance ] && $aot; then
    kind=(-p:PublishAot=true -p:StripSymbols=true)
    mapfile -t -O 2 kind < <(aot_options "$rid")
  fi
  if ! dotnet publish "$root/$project/$project.csproj" -c Release -r "$rid" --self-contained "${kind[@]}" \
      -p:TrimmerSingleWarn=false -p:DebugType=none -p:SatelliteResourceLanguages=en -p:RunAnalyzers=false \
      --artifacts-path "$root/artifacts/obj-publish/$rid" -o "$bin" -nologo >"$log" 2>&1; then
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
  # One known warning passes (the AOT compiler cannot take Appliance/ILLink.LinkAttributes.xml, which quiets it for
  # the trimmer, with the reason); any other fails.
  if grep -E 'warning (IL|CS|CA)[0-9]+' "$log" | grep -v 'IL2075: UnitsNet\.UnitConverter\.RegisterDefaultConversions(' >&2; then
    echo "publish-arm64.sh: the publish produced warnings (above); fix them (see README, Installing on a Raspberry Pi)" >&2
    exit 1
  fi
  # Only the binary (plus appsettings.json for the relay) is installed; no .pdb, .dbg or static web assets manifest.
  # The native code's symbols stay beside the packages (NAME-RID.dbg) for reading a crash's stack.
  install -m 755 "$bin/$project" "$dir/$project"
  if [ -f "$bin/$project.dbg" ]; then mv "$bin/$project.dbg" "$out/$project-$rid.dbg"; fi
  # Native libraries (SQLite) are not linked into the program: they ship beside the binary, where both the single-file
  # host and native code look for them.
  for native in "$bin/"*.so; do
    if [ -f "$native" ]; then install -m 644 "$native" "$dir/"; fi
  done
  if [ -f "$bin/appsettings.json" ]; then install -m 644 "$bin/appsettings.json" "$dir/appsettings.json"; fi
  rm -rf "$bin"
}

# NuGet's native libraries (the relay's SQLite) come with their symbols; Debian ships them stripped (lintian errs
# otherwise). GNU strip reads only this machine's architecture: for another, llvm-strip or the cross binutils
# (sudo apt install binutils-aarch64-linux-gnu) do it; without either the library stays as it is, with a warning.
strip_library() { # strip_library FILE RID
  local tool
  for tool in strip llvm-strip "$(case "$2" in linux-arm64) echo aarch64-linux-gnu-strip ;; linux-arm) echo arm-linux-gnueabihf-strip ;; esac)"; do
    if [ -n "$tool" ] && command -v "$tool" >/dev/null && "$tool" --strip-unneeded --remove-section=.comment "$1" 2>/dev/null; then
      return 0
    fi
  done
  echo "publish-arm64.sh: warning: could not strip $(basename "$1") for $2 (install llvm or binutils-aarch64-linux-gnu); lintian will say unstripped-binary-or-object" >&2
}

# libc6's version: the newest GLIBC_x.y symbol version the ELF files under DIR ask for (lintian wants the dependency).
glibc_needed() {
  find "$1" -type f \( -name '*.so' -o -perm -u+x \) -print0 | xargs -0 readelf -W --version-info 2>/dev/null \
    | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1
}

package() { # package PROJECT RID
  local project="$1" rid="$2" name arch stage deb
  name="$(echo "$project" | tr '[:upper:]' '[:lower:]')"
  arch="$(debian_arch "$rid")"
  stage="$out/stage/${name}_${arch}"
  deb="$out/${name}_${version}_${arch}.deb"
  rm -rf "$stage" && mkdir -p "$stage/DEBIAN"
  publish "$project" "$rid" "$stage/usr/lib/$name"
  for library in "$stage/usr/lib/$name/"*.so; do
    if [ -f "$library" ]; then strip_library "$library" "$rid"; fi
  done
  # Files: the unit, /usr/bin/NAME, the settings (a conffile: every key with its default, commented), the docs.
  install -d -m 755 "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/etc/$name" "$stage/usr/share/doc/$name"
  ln -s "../lib/$name/$project" "$stage/usr/bin/$name"
  install -m 644 "$root/systemd/$name.service" "$stage/usr/lib/systemd/system/$name.service"
  install -m 644 "$root/systemd/$name.json.example" "$stage/etc/$name/$name.json"
  install -m 644 "$root/systemd/README.md" "$stage/usr/share/doc/$name/README.md"
  sed "s/@NAME@/$name/g; s/@YEAR@/$(date -u +%Y)/g" "$root/systemd/debian/copyright" > "$stage/usr/share/doc/$name/copyright"
  chmod 644 "$stage/usr/share/doc/$name/copyright"
  { echo "$name ($version) unstable; urgency=medium"; echo
    echo "  * Version $version, built from $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'a source tree')."
    echo "    The changes are in the project's git history."; echo
    echo " -- Appliance maintainers <appliance@example.org>  $(LC_ALL=C date -u -R -d "@$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)")"
  } | gzip -9n > "$stage/usr/share/doc/$name/changelog.gz"
  chmod 644 "$stage/usr/share/doc/$name/changelog.gz"
  # lintian's one override, with its reason (docs/packaging.md).
  install -d -m 755 "$stage/usr/share/lintian/overrides"
  sed "s/@NAME@/$name/g; s/@PROJECT@/$project/g" "$root/systemd/debian/lintian-overrides" > "$stage/usr/share/lintian/overrides/$name"
  chmod 644 "$stage/usr/share/lintian/overrides/$name"

  # Maintainer scripts, filled in for this program.
  local groups="" secrets="" private=""
  if [ "$name" = appliance ]; then groups="video gpio i2c"; secrets="/etc/appliance/secrets.json"; fi
  if [ "$name" = relay ]; then private="/etc/relay/relay.json"; fi # it holds the appliances' secrets itself
  for script in postinst prerm postrm; do
    sed -e "s|@NAME@|$name|g" -e "s|@GROUPS@|$groups|g" -e "s|@SECRETS@|$secrets|g" -e "s|@PRIVATE_SETTINGS@|$private|g" \
      "$root/systemd/debian/$script" > "$stage/DEBIAN/$script"
    chmod 755 "$stage/DEBIAN/$script"
  done
  echo "/etc/$name/$name.json" > "$stage/DEBIAN/conffiles"

  local depends="libc6 (>= $(glibc_needed "$stage/usr/lib/$name")), libgcc-s1, libstdc++6, libssl3 | libssl3t64, passwd"
  local description recommends=""
  if [ "$name" = appliance ]; then
    depends="$depends, libturbojpeg0"
    recommends="Recommends: ffmpeg"
    description="camera and home-control box for a family's WeCom
 A Raspberry Pi with a camera and a few GPIO parts (relays, a PIR sensor, a
 doorbell button) serves the live picture to browsers and answers the
 household's WeCom (企业微信) app: snapshots, signed stream links, switching
 relays, status. It reaches the outside world through an outbound tunnel to
 the relay package on a VPS. Self-contained .NET program, systemd service
 'appliance'; settings in /etc/appliance, check with: appliance doctor."
  else
    description="public endpoint for the appliance's outbound tunnel
 Runs on a VPS: appliances dial out to it, visitors and WeCom's callbacks
 reach them through it, and callbacks are kept while an appliance is
 offline. Self-contained .NET program, systemd service 'relay'; settings in
 /etc/relay/relay.json, check with: relay doctor."
  fi
  (cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  chmod 644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/conffiles"
  cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: Appliance maintainers <appliance@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
${recommends:+$recommends
}Section: misc
Priority: optional
Description: $description
CONTROL
  rm -f "$deb"
  dpkg-deb --root-owner-group -Zxz "-z$xz_level" --build "$stage" "$deb" >/dev/null
  rm -rf "$stage"
  echo "   $(du -h "$deb" | cut -f1) $deb" >&2
  echo "$deb"
}

# The packages are built side by side, $jobs at a time: most of a publish is the trimmer and the ReadyToRun compiler, each
# busy on one core. Every package prints its path into its own file; the paths come out in the targets' order.
chosen=()
for target in "${targets[@]}"; do
  project="${target% *}"
  if [ -z "$only" ] || [ "$only" = "$(echo "$project" | tr '[:upper:]' '[:lower:]')" ]; then chosen+=("$target"); fi
done
mkdir -p "$out/stage"
pids=()
for i in "${!chosen[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  (package "${chosen[$i]% *}" "${chosen[$i]#* }" > "$out/stage/deb.$i") &
  pids[i]=$!
done
status=0
for i in "${!chosen[@]}"; do wait "${pids[$i]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }; done
[ "$status" -eq 0 ] || exit "$status" # the first failure's status (69: runtime packs not restorable)
for i in "${!chosen[@]}"; do cat "$out/stage/deb.$i"; rm -f "$out/stage/deb.$i"; done
