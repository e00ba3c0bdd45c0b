#!/bin/busybox sh
# /init of the arm64 system lane's initramfs (tests/hardware/run-in-qemu.sh with HWLANE_ARCH=arm64): loads the lane's
# modules (virtio_blk, ext4, 9p, configfs, gpio-sim, vivid), mounts the arm64 Debian root from /dev/vda (qemu discards
# every write: snapshot=on) and the work share at /lane, adds lane.target/lane.service, and hands over to the root's
# own systemd as PID 1. lane.service runs /lane/in-guest.sh, which writes /lane/exit-status and powers the guest off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() { echo "arm64-init: $*"; poweroff -f; }

. /load-modules.sh

mkdir -p /newroot
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
mount -t ext4 /dev/vda /newroot || die "cannot mount the arm64 root on /dev/vda"
mkdir -p /newroot/lane
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work /newroot/lane || die "cannot mount the work share"
cat > /newroot/etc/systemd/system/lane.target <<'UNIT'
[Unit]
Description=Appliance arm64 system lane
Requires=basic.target lane.service
After=basic.target lane.service
AllowIsolate=yes
UNIT
cat > /newroot/etc/systemd/system/lane.service <<'UNIT'
[Unit]
Description=Appliance arm64 system lane: the .deb and its unit under this systemd
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/bash /lane/in-guest.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
UNIT
ln -sf lane.target /newroot/etc/systemd/system/default.target
: > /newroot/etc/fstab

mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
echo "arm64-init: root ready, starting systemd"
exec switch_root /newroot /lib/systemd/systemd --show-status=false
