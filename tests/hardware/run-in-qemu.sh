#!/usr/bin/env bash
# Runs a shell command as root inside a qemu guest (TCG) booted on a Debian kernel with gpio-sim, vivid and
# i2c-stub loaded. The guest sees the host's root read-only and /tmp/hwlane (read-write) = $HWLANE_WORK.
# Usage: run-in-qemu.sh 'command …'   Exit status: the command's, or 1 when the guest could not run it.
# HWLANE_INIT replaces the guest's /init (default guest-init.sh; the systemd-boot lane boots systemd instead); such an
# init writes exit-status to the work share itself. HWLANE_DISK attaches a raw disk image as /dev/vda (the hardware
# lane's power cut); a guest that resets itself (sysrq b) ends qemu at once (-no-reboot), without an exit status.
# HWLANE_ARCH=arm64 boots qemu-system-aarch64 (-M virt) on Debian's arm64 kernel instead (tests/arm64/); the guest's
# /init then needs an arm64 busybox: HWLANE_BUSYBOX. HWLANE_DISK_OPTS adds drive options (",snapshot=on").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "run-in-qemu: ERROR: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: run-in-qemu.sh 'command'"
arch="${HWLANE_ARCH:-amd64}"
qemu=qemu-system-x86_64; machine=(-cpu max -M q35); console=ttyS0
[ "$arch" = arm64 ] && { qemu=qemu-system-aarch64; machine=(-cpu max -M virt); console=ttyAMA0; }
for tool in "$qemu" busybox cpio depmod modprobe dpkg-deb apt-get xz; do
  command -v "$tool" >/dev/null || die "$tool is not installed (tests/lanes/hardware.apt lists the packages)"
done
busybox_bin="${HWLANE_BUSYBOX:-$(command -v busybox)}"
file -L "$busybox_bin" 2>/dev/null | grep -q 'dynamically linked' && die "$busybox_bin is dynamically linked: install busybox-static"

kernel_dir=$("$here/fetch-kernel.sh") || die "could not prepare a kernel with gpio-sim, vivid and i2c-stub"
work="${HWLANE_WORK:?set HWLANE_WORK to a directory for the guest work share}"
mkdir -p "$work"
rm -f "$work/exit-status"
# The directory the command runs in (the checkout) is shared on its own too, in case it is under /tmp or /run,
# which the guest covers with tmpfs.
repo="$(pwd)"
echo "$repo" > "$work/repo-path"
{ echo "set -e"; echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  echo "export HOME=/tmp/home DOTNET_CLI_HOME=/tmp/home NUGET_PACKAGES=${NUGET_PACKAGES:-$HOME/.nuget/packages}"
  echo "export DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 HWLANE_MODULES=/tmp/modules"
  # JIT time dominates under TCG: skip PGO instrumentation.
  echo "export DOTNET_TieredPGO=0"
  echo "mkdir -p /tmp/home"; echo "cd $(pwd)"; echo "$1"; } > "$work/command.sh"

init_started="run-in-qemu: the guest's /init started"
# The initramfs: busybox, the decompressed modules and their parameters, the init script. Builds in < 1 s.
initrd_dir=$(mktemp -d)
trap 'rm -rf "$initrd_dir"' EXIT
mkdir -p "$initrd_dir"/{bin,proc,sys,dev,modules}
cp "$busybox_bin" "$initrd_dir/bin/busybox"
cp "$kernel_dir"/modules/* "$initrd_dir/modules/"
echo "n_devs=1 node_types=0x1" > "$initrd_dir/modules/vivid.params"
echo "chip_addr=0x76" > "$initrd_dir/modules/i2c-stub.params"
cp "${HWLANE_INIT:-$here/guest-init.sh}" "$initrd_dir/init.lane" && chmod +x "$initrd_dir/init.lane"
# /init says on the console that the kernel got as far as running it, then becomes the lane's init.
printf '#!/bin/busybox sh\necho "%s"\nexec /init.lane "$@"\n' "$init_started" > "$initrd_dir/init" && chmod +x "$initrd_dir/init"
cp "$here/load-modules.sh" "$initrd_dir/load-modules.sh"
(cd "$initrd_dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

disk=()
[ -n "${HWLANE_DISK:-}" ] && disk=(-drive "file=$HWLANE_DISK,format=raw,if=virtio,cache=writeback${HWLANE_DISK_OPTS:-}")
timeout_s="${HWLANE_TIMEOUT:-280}"
# A second boot only when the kernel panicked before it ran /init: under TCG with two vCPUs the kernel's own code
# patching (int3 breakpoints, smp_text_poke_batch_finish) has panicked once in a few dozen boots ("Oops: int3" at 2 s),
# before anything of the lane ran. A panic after /init started is the lane's to report, never retried.
for attempt in 1 2; do
  echo "run-in-qemu: booting $(basename "$kernel_dir") (timeout ${timeout_s} s)"
  set +e
  timeout --kill-after=10 "$timeout_s" "$qemu" -accel tcg,thread=multi "${machine[@]}" -m "${HWLANE_MEMORY:-2048}" \
    -smp "${HWLANE_CPUS:-2}" -display none -monitor none -serial stdio -no-reboot \
    -kernel "$kernel_dir/vmlinuz" -initrd "$work/initramfs.gz" -append "console=$console quiet panic=-1 rdinit=/init" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$work,mount_tag=work,security_model=none,multidevs=remap" \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" "${disk[@]}" < /dev/null \
    | tee "$initrd_dir/console"
  qemu_rc=${PIPESTATUS[0]}
  set -e
  if [ "$attempt" = 1 ] && [ ! -f "$work/exit-status" ] && grep -q 'Kernel panic' "$initrd_dir/console" \
      && ! grep -qF "$init_started" "$initrd_dir/console"; then
    echo "run-in-qemu: the guest kernel panicked before it ran /init (above); booting it once more"
    continue
  fi
  break
done
[ "$qemu_rc" -eq 124 ] && die "the guest did not finish within ${timeout_s} s"
[ -f "$work/exit-status" ] || die "the guest ended (qemu status $qemu_rc) without running the command"
exit "$(cat "$work/exit-status")"
