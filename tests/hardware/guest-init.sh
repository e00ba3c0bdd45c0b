#!/bin/busybox sh
# /init of the lane's initramfs: loads the test modules, mounts the host's root (read-only 9p) and the work share,
# chroots into the host root and runs /tmp/hwlane/command.sh as root; writes its exit status to the work share.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

. /load-modules.sh
ip link set lo up

root=/newroot
mkdir -p $root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $root || { echo "hwlane-init: cannot mount host root"; poweroff -f; }
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
mkdir -p $root/tmp/hwlane
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work $root/tmp/hwlane || { echo "hwlane-init: cannot mount work share"; poweroff -f; }
mount -t devtmpfs devtmpfs $root/dev
mkdir -p /dev/shm; mount -t tmpfs tmpfs $root/dev/shm
mount -t devpts devpts $root/dev/pts 2>/dev/null
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t configfs configfs $root/sys/kernel/config
mount -t tmpfs tmpfs $root/run
# A checkout under /tmp or /run (CI clones, temporary copies) is hidden by the tmpfs mounts above: mount its own
# share at the same path.
repo=$(cat $root/tmp/hwlane/repo-path 2>/dev/null)
case "$repo" in
  /tmp/*|/run/*)
    mkdir -p "$root$repo"
    mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose repo "$root$repo" || { echo "hwlane-init: cannot mount the checkout $repo"; poweroff -f; } ;;
esac
# The tests reload vivid (unplug/replug); give them the decompressed modules and the parameters.
mkdir -p $root/tmp/modules && cp /modules/* $root/tmp/modules/

echo "hwlane-init: ready, running the command"
chroot $root /bin/bash /tmp/hwlane/command.sh
rc=$?
echo "$rc" > $root/tmp/hwlane/exit-status
sync
echo "hwlane-init: command exited with $rc"
poweroff -f
