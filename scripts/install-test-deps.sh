#!/usr/bin/env bash
# Installs the real peers and tools that segw's tests and benchmarks run against.
# Idempotent: packages already present are skipped; safe to run on every CI start.
set -euo pipefail

PACKAGES=(
  iproute2 iputils-ping nftables conntrack strace procps psmisc tcpdump
  strongswan-charon strongswan-swanctl strongswan-pki
  libstrongswan-standard-plugins libstrongswan-extra-plugins libcharon-extra-plugins
  keepalived bird2 frr tshark iperf3
  user-mode-linux kmod iptables ethtool
  clang libclang-rt-14-dev libssl-dev  # scripts/fuzz-native.sh: libFuzzer, ASan/UBSan runtimes, libcrypto
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: must run as root (apt-get, network namespaces)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Distribution packages start daemons of their own: segw's tests run their own instances in
# namespaces, so the system-wide ones must not hold ports or pid files.
for svc in strongswan-starter strongswan ipsec keepalived bird frr; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
# Processes are never killed by name here: a charon, bird or keepalived that is running may be
# another job's (or a test's, in its own namespace). Those in the root namespace are named, so an
# operator can stop them if they hold the ports or pid files the tests need.
for p in charon bird keepalived zebra; do
  for pid in $(pgrep -x "$p" 2>/dev/null || true); do
    if [ "$(readlink /proc/"$pid"/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ]; then
      echo "install-test-deps: note: $p (pid $pid) runs in the root namespace; segw's tests start their own in namespaces" >&2
    fi
  done
done

# Route protocol name so `ip route show proto segw` works (RFC-less local number 200, see src/kernel).
mkdir -p /etc/iproute2/rt_protos.d
echo "200 segw" > /etc/iproute2/rt_protos.d/segw.conf
echo "install-test-deps: done"
