#!/bin/bash
# PID 1 of a segw user-mode-linux guest (started by scripts/uml-run; not for direct use).
#
# The guest boots on the host's / through hostfs, read-only. This script builds the root the
# test runs in: an overlay of that / with a tmpfs upper layer (so the guest can write anywhere
# without touching the host), /lib/modules bound to the UML kernel's modules (so the kernel's
# module autoload finds esp4, xfrm_user, veth... — it needs pivot_root, not chroot), fresh /run,
# /tmp and /dev; then runs the command of the share directory as root, stores its output and exit
# code there, and powers the guest off.
#
# Kernel command line variables (the kernel hands unknown KEY=VALUE words to init's environment):
#   SEGW_UML_SHARE  host directory shared read-write with the guest (cmd, stdout, stderr, rc)
#   SEGW_UML_KVER   the UML kernel's release, to find its modules under /usr/lib/uml/modules
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
share=${SEGW_UML_SHARE:?}
kver=${SEGW_UML_KVER:?}
mods=/usr/lib/uml/modules/$kver

poweroff() {
  sync
  echo o > /proc/sysrq-trigger
  sleep 10
}
fail() {
  echo "uml-init: $*" >&2
  [ -d /segw-share ] && echo "$*" > /segw-share/boot-error 2>/dev/null
  poweroff
}

mount -t proc proc /proc || fail "mount /proc"
mount -t tmpfs -o mode=0755,size=64M tmpfs /mnt || fail "tmpfs on /mnt"
mkdir -p /mnt/share /mnt/upper /mnt/work /mnt/root
mount -t hostfs -o "$share" none /mnt/share || fail "hostfs $share"
insmod "$mods/kernel/fs/overlayfs/overlay.ko" || fail "insmod overlay"
# The upper layer lives in the guest's RAM (tmpfs): nothing the test writes reaches the host
# except through the share directory.
mount -t tmpfs -o mode=0755 tmpfs /mnt/upper || fail "tmpfs upper"
mkdir -p /mnt/upper/u /mnt/upper/w
mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/upper/u,workdir=/mnt/upper/w /mnt/root || fail "overlay root"
r=/mnt/root
mkdir -p "$r/oldroot" "$r/segw-share" "$r/lib/modules"
mount --bind "$mods/.." "$r/lib/modules" || fail "bind modules"
mount --bind /mnt/share "$r/segw-share" || fail "bind share"
cd "$r" || fail "cd root"
pivot_root . oldroot || fail "pivot_root"
exec </dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs -o mode=0755 tmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/net
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
[ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200
for d in /run /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$d" 2>/dev/null; done
mkdir -p /run/netns /run/lock
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
umount -l /oldroot
# IPv6 is a module in this kernel; the lab and the daemons expect it.
modprobe ipv6 2>/dev/null
ip link set lo up
hostname segw-uml

cd "$(cat /segw-share/cwd)" || fail "cd $(cat /segw-share/cwd)"
set -a
. /segw-share/env
set +a
echo booted > /segw-share/booted
bash /segw-share/cmd > /segw-share/stdout 2> /segw-share/stderr
echo $? > /segw-share/rc
cd /
poweroff
