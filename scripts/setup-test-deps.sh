#!/usr/bin/env bash
# Installs, only when missing and only as root, the Debian packages orchard's
# tests use: tshark (reference fingerprints), tcpdump and tcpreplay (lab
# capture and replay), dovecot, postfix and dnsmasq (the end-to-end lab),
# clang/llvm/libbpf-dev (regenerating the eBPF program), iproute2.
# As a normal user it only reports what is missing: the tests that need
# these skip with a message (or fail where CI=true).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_missing() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

have tshark || need+=(tshark)
have tcpdump || need+=(tcpdump)
have tcpreplay || need+=(tcpreplay)
have ip || need+=(iproute2)
have dnsmasq || need+=(dnsmasq-base)
have openssl || need+=(openssl)
have curl || need+=(curl)
pkg_missing dovecot-imapd && need+=(dovecot-imapd)
pkg_missing dovecot-submissiond && need+=(dovecot-submissiond)
pkg_missing postfix && need+=(postfix)
have clang-14 || need+=(clang-14)
have llvm-strip || need+=(llvm)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)

if [ ${#need[@]} -eq 0 ]; then
	echo "test dependencies: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "test dependencies missing (run as root to install): ${need[*]}" >&2
	exit 0
fi
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix asks for its mailer type; "No configuration" leaves it to the lab.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "test dependencies installed"
