#!/bin/busybox sh
# /init of the systemd-boot lane's initramfs. Loads the lane's modules (vivid, gpio-sim, i2c-stub …), builds a
# writable root on tmpfs from the host's (read-only 9p: /usr under a writable overlay; /etc and dpkg's database (the
# lane's trimmed copy) unpacked from one tarball the lane made on the host), makes
# lane.target the default and hands over to the host's own systemd as PID 1. lane.service then runs
# /lane/in-guest.sh, which writes /lane/exit-status and powers the guest off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() { echo "systemd-boot-init: $*"; poweroff -f; }

. /load-modules.sh

mkdir -p /host /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || die "cannot mount the host root"
mount -t tmpfs -o mode=755,size=1200m tmpfs /newroot
cd /newroot
mkdir -p usr etc var/lib/dpkg var/log var/cache var/tmp opt root srv lane tmp proc sys dev run home mnt
chmod 1777 tmp var/tmp && chmod 700 root
for dir in bin lib lib64 sbin; do ln -s "$(readlink /host/$dir)" $dir; done
ln -s /run var/run
# /usr is the host's with a writable layer on top (tmpfs), and dpkg's database a copy (about 40 MB; dpkg reads all of
# it on every run, which over 9p takes a minute under TCG), so dpkg and apt install packages in the guest as on a
# real machine while the host stays untouched.
mkdir -p .rw/usr/upper .rw/usr/work
mount -t overlay overlay -o lowerdir=/host/usr,upperdir=/newroot/.rw/usr/upper,workdir=/newroot/.rw/usr/work usr \
  || die "cannot mount a writable /usr (overlay)"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work lane || die "cannot mount the work share"
# The host's /etc and the lane's copy of dpkg's database (files lists cut to shared directories: dpkg-database.py), as
# one tarball: copied file by file over 9p, /etc's 1 500 files alone took 53 s under TCG, unpacked from one file 6 s.
tar -xf lane/root.tar -C /newroot || die "cannot unpack the lane's /etc and dpkg database (lane/root.tar)"
mkdir -p var/lib/apt/lists/partial var/cache/apt/archives/partial var/log/apt
# A container host forbids maintainer scripts to start services (policy-rc.d exits 101); a real machine has none.
rm -f usr/sbin/policy-rc.d

# Only what the lane needs starts: the host's enabled services (nginx, ssh, timers …) are left out.
rm -rf etc/systemd/system/*.wants etc/systemd/system/default.target
: > etc/fstab
: > etc/machine-id
cat > etc/systemd/system/lane.target <<'UNIT'
[Unit]
Description=Appliance systemd-boot lane
Requires=basic.target lane.service
After=basic.target lane.service
AllowIsolate=yes
UNIT
cat > etc/systemd/system/lane.service <<'UNIT'
[Unit]
Description=Appliance systemd-boot lane: the .deb packages and the units under this systemd
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
ln -s lane.target etc/systemd/system/default.target

mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
echo "systemd-boot-init: root ready, starting systemd"
exec switch_root /newroot /lib/systemd/systemd --show-status=false
