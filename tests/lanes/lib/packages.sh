# Sourced by the lanes that install or run the .deb packages (each defines fail() and root first): this run's packages
# for a RID, published once. tests/run-all.sh publishes both RIDs before the lanes start (publish-packages.sh, beside
# the unit tests at the lowest CPU priority) into $LANE_SHARED/RID; a lane run on its own publishes them itself, and
# leaves them there for the next lane when LANE_SHARED is set. PUBLISH_DIR_<RID with _> (e.g. PUBLISH_DIR_linux_arm64)
# names a directory that already holds them (a local re-run).

lane_packages() { # RID DEST: this run's packages for RID copied into DEST; DEST/debs lists their paths, one a line
  local rid="$1" dest="$2" shared="${LANE_SHARED:+$LANE_SHARED/$1}" given started from
  given="PUBLISH_DIR_${rid//-/_}"; from="${!given:-}"
  mkdir -p "$dest"
  if [ -z "$from" ] && [ -n "$shared" ] && [ -f "$shared/complete" ]; then
    from="$shared"
    echo "packages for $rid: published for this run in $(cat "$shared/seconds" 2>/dev/null || echo '?') s"
  fi
  if [ -z "$from" ]; then
    started=$(date +%s)
    from="$dest/publish"
    # xz -1, not a release's -6: the same format for apt and dpkg, 10 % larger, and the four packages compress in 16 s
    # instead of 75 s on the 2-core machine (CPU the lanes beside the publish would otherwise lose).
    "$root/publish-arm64.sh" --rid "$rid" --xz-level 1 --out "$from" > "$dest/published" || fail "publish-arm64.sh --rid $rid failed"
    echo "publish-arm64.sh --rid $rid: $(( $(date +%s) - started )) s"
    if [ -n "$shared" ]; then
      mkdir -p "$shared" && cp $(cat "$dest/published") "$shared/"
      echo "$(( $(date +%s) - started ))" > "$shared/seconds"
      touch "$shared/complete"
    fi
  fi
  : > "$dest/debs"
  for deb in "$from"/*.deb; do
    [ -f "$deb" ] || continue
    [ "$(dirname "$deb")" = "$dest" ] || cp "$deb" "$dest/"
    echo "$dest/$(basename "$deb")" >> "$dest/debs"
  done
  [ -s "$dest/debs" ] || fail "no packages for $rid in $from"
}
