# Sourced: sets $mirror to the first plain Debian archive URI in the machine's apt sources (deb822 .sources or one-line
# format), or to $HWLANE_MIRROR. Empty when there is none; the caller says what to do then.
mirror="${HWLANE_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n';
              cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p'; } \
            | grep -E '/debian/?$' | head -n1 || true)
fi
