#!/usr/bin/env bash
# setup-deps.sh: install the Debian packages the end-to-end lab needs, only
# those missing. Fast (no apt-get at all) when everything is present.
# Idempotent; safe to run from several tests at once (apt waits for its lock).
set -euo pipefail

# package -> a file it installs (what we test for)
declare -A want=(
	[dovecot-imapd]=/usr/sbin/dovecot
	[postfix]=/usr/sbin/postfix
	[dnsmasq-base]=/usr/sbin/dnsmasq
	[tcpdump]=/usr/bin/tcpdump
	[iproute2]=/usr/sbin/ip
	[openssl]=/usr/bin/openssl
	[curl]=/usr/bin/curl
	[procps]=/usr/sbin/sysctl
)

missing=()
for pkg in "${!want[@]}"; do
	# tcpdump lives in /usr/bin on Debian 12 and /usr/sbin on older releases
	if [[ -e ${want[$pkg]} ]] || command -v "$(basename "${want[$pkg]}")" >/dev/null 2>&1; then
		continue
	fi
	missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "setup-deps: missing ${missing[*]} and not root; run as root" >&2
	exit 1
fi

echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks how it is to be configured; "No configuration" leaves main.cf
# to us (the lab writes its own config under a temp folder).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string mail.corp.example" | debconf-set-selections

aptopts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q)
# A fresh machine has no package lists; update once when the install fails for
# lack of them (and always when no list is present).
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
	apt-get "${aptopts[@]}" update >&2
fi
if ! apt-get "${aptopts[@]}" install --no-install-recommends "${missing[@]}" >&2; then
	apt-get "${aptopts[@]}" update >&2
	apt-get "${aptopts[@]}" install --no-install-recommends "${missing[@]}" >&2
fi

# Debian's packages start their services where an init system runs; the lab
# starts its own copies inside namespaces, so stop any the install started on
# the host (no systemd here normally; ignore errors).
for svc in dovecot postfix dnsmasq; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" >/dev/null 2>&1 || true
		systemctl disable "$svc" >/dev/null 2>&1 || true
	fi
done
echo "setup-deps: done" >&2
