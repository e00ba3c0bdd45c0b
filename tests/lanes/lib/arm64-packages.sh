# Sourced by the arm64 lanes (tests/lanes/arm64-*.sh; each defines fail() and root first): the arm64 build of this
# run, made once. The linux-arm64 publish takes minutes, so the first arm64 lane runs publish-arm64.sh and leaves its
# packages in $LANE_SHARED/arm64 for the next; ARM64_PUBLISH_DIR names a directory that already holds them (a local
# re-run). Knows both outputs of publish-arm64.sh: Debian packages (NAME_VERSION_arm64.deb) and the older tarballs.

arm64_packages() { # DIR: copies this run's arm64 Appliance and Relay packages into DIR
  local dest="$1" shared="${LANE_SHARED:+$LANE_SHARED/arm64}" from="${ARM64_PUBLISH_DIR:-}"
  if [ -z "$from" ] && [ -n "$shared" ] && [ -f "$shared/complete" ]; then from="$shared"; fi
  if [ -z "$from" ]; then
    local started; started=$(date +%s)
    from="$dest/publish"
    "$root/publish-arm64.sh" --rid linux-arm64 --out "$from" > "$dest/published" || fail "publish-arm64.sh --rid linux-arm64 failed"
    echo "arm64 publish: $(( $(date +%s) - started )) s"
    if [ -n "$shared" ]; then
      mkdir -p "$shared" && cp $(cat "$dest/published") "$shared/" && touch "$shared/complete"
    fi
  fi
  cp "$from"/*arm64*.deb "$from"/*-linux-arm64.tar.gz "$dest/" 2>/dev/null || true
  ls "$dest"/appliance*arm64* "$dest"/relay*arm64* >/dev/null 2>&1 || fail "no arm64 appliance and relay packages in $from"
}

arm64_unpack() { # PACKAGE DIR: the package's files under DIR (a .deb's tree, or the tarball's directory)
  mkdir -p "$2"
  case "$1" in
    *.deb) dpkg-deb -x "$1" "$2" ;;
    *.tar.gz) tar -C "$2" -xzf "$1" ;;
  esac
}

arm64_binary() { # DIR NAME: the path of the executable NAME (Appliance, Relay) unpacked under DIR
  find "$1" -type f -name "$2" -perm -u+x | head -n1
}
