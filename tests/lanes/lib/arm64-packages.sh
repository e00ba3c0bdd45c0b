# Sourced by the arm64 lanes (tests/lanes/arm64-*.sh; each defines fail() and root first):
# the arm64 packages of this run (tests/lanes/lib/packages.sh: published once per run; PUBLISH_DIR_linux_arm64=DIR
# reuses a publish), unpacked.
source "$root/tests/lanes/lib/packages.sh"

arm64_packages() { # DIR: copies this run's arm64 Appliance and Relay packages into DIR
  lane_packages linux-arm64 "$1"
  ls "$1"/appliance*arm64* "$1"/relay*arm64* >/dev/null 2>&1 || fail "no arm64 appliance and relay packages in $1"
}

arm64_unpack() { # PACKAGE DIR: the .deb's files under DIR
  mkdir -p "$2" && dpkg-deb -x "$1" "$2"
}

arm64_binary() { # DIR NAME: the path of the executable NAME (Appliance, Relay) unpacked under DIR
  find "$1" -type f -name "$2" -perm -u+x | head -n1
}
