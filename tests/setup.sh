#!/usr/bin/env bash
# Installs what the test suite needs on Debian 12: system packages through apt, JavaScript tools through npm.
# Safe to run again; installs only what is missing. Needs root (or sudo).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# One package per line: what the tests use it for is in tests/README.md.
apt_packages=(
  libturbojpeg0      # JPEG encode/decode (the appliance itself needs it)
  ffmpeg             # real MJPEG client (ffprobe/ffmpeg) and clip encoding
  chromium           # real browser for the web page tests (driven by playwright-core)
  fonts-wqy-microhei # Chinese glyphs in Chromium (the documentation's WeCom chat picture, the page's Chinese texts)
  clang              # links the appliance's native code (publish-arm64.sh compiles it with Native AOT)
  gcc-aarch64-linux-gnu # arm64's linker and objcopy for that link on this x86 machine (cross packages)
  libc6-dev-arm64-cross # arm64's C library to link against (crt1.o, libc.so): only a Recommends of the cross gcc,
                        # which --no-install-recommends below leaves out (a fresh machine's arm64 publish failed)
)
# Node.js runs the browser driver and the @wecom/crypto oracle. Some machines have NodeSource's build (npm bundled,
# and Debian's npm package conflicts with it): install Debian's only where the commands are missing.
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
for lane in "$here"/lanes/*.apt; do
  [ -f "$lane" ] || continue
  while read -r pkg _; do [ -n "$pkg" ] && [ "${pkg:0:1}" != "#" ] && apt_packages+=("$pkg"); done < "$lane"
done

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian's motion is a peer the motion-peer lane runs as a plain process, not a service; its package enables and
  # starts motion.service, whose web control takes localhost:8080, the appliance's own default port (the README's
  # first command would then fail to listen). Stopped and disabled only when installed here, only where systemd runs.
  if [[ " ${missing[*]} " == *" motion "* ]] && [ -d /run/systemd/system ]; then
    echo "setup: motion.service stopped and disabled (the tests run motion themselves; it would hold port 8080)"
    $sudo systemctl disable --now motion.service || true
  fi
fi

# npm packages live next to the scripts that use them (lock files pin the versions).
for dir in "$here"/browser "$here"/node; do
  if [ -f "$dir/package.json" ]; then
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules" ]; then
      echo "setup: npm install in ${dir#"$here"/}"
      (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error)
      touch "$dir/node_modules"
    fi
  fi
done
