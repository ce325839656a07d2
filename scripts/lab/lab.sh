#!/usr/bin/env bash
# lab.sh: orchard's end-to-end lab in network namespaces. Real dnsmasq,
# dovecot, postfix and a small web server; clients that behave like an
# iPhone, a Windows PC, a Linux box and an Android phone; tcpdump on the
# gateway's LAN bridge. Nothing has a default route: no packet leaves the lab.
#
#   lab.sh up DIR            namespaces, certificates, servers, client links
#   lab.sh capture start DIR tcpdump on the gateway bridge -> DIR/lab.pcap
#   lab.sh traffic DIR       run the clients; writes DIR/manifest.json
#   lab.sh capture stop DIR  stop tcpdump cleanly (pcap flushed)
#   lab.sh down DIR          stop everything, delete namespaces, keep DIR/logs
#   lab.sh all DIR           all of the above, torn down by a trap on any exit
#   lab.sh exec DIR NS CMD.. run CMD in the lab's namespace NS (gw, srv, or a profile)
#   lab.sh sweep             delete orl-* namespaces whose owner process is gone
#
# Environment: LAB_PROFILES (space-separated client profiles, default all),
# LAB_BIN (folder with labclient and labweb; built into DIR/bin if unset),
# LAB_OWNER_PID (process that owns the lab, for sweep; default the caller).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Addresses. The LAN is private; the server net is TEST-NET-1 (RFC 5737).
LAN_CIDR=10.99.0.0/24
GW_LAN=10.99.0.1
GW_MAC=02:0b:0a:00:00:01
DHCP_FIRST=10.99.0.100
DHCP_LAST=10.99.0.199
SRV_CIDR=192.0.2.0/24
GW_SRV=192.0.2.1
MAIL_IP=192.0.2.10
WEB_IP=192.0.2.20
MAIL_NAME=mail.corp.example
MAIL_USER=alice
MAIL_PASS=lab-pass-4711

DEFAULT_PROFILES="apple-mail apple-browse apple-allowed pc-mail linux-mail android-mail"

# Fixed MACs so the test and orchard-lab.yaml can name them. Apple and
# Android clients use locally administered (randomised-style) addresses, as
# their private Wi-Fi addresses are; the PC and Linux box use vendor OUIs.
mac_for() {
	case $1 in
	apple-mail) echo da:a1:e0:00:00:01 ;;
	apple-browse) echo da:a1:e0:00:00:02 ;;
	apple-allowed) echo ae:a1:10:ed:00:01 ;; # allowlisted in orchard-lab.yaml
	pc-mail) echo 3c:58:c2:00:00:04 ;;       # Intel OUI
	linux-mail) echo 52:54:00:00:00:05 ;;    # QEMU/KVM OUI
	android-mail) echo 8a:a1:e0:00:00:06 ;;
	*) return 1 ;;
	esac
}

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# retry N SECONDS-BETWEEN CMD...: bounded polling.
retry() {
	local n=$1 pause=$2
	shift 2
	local i
	for ((i = 0; i < n; i++)); do
		if "$@"; then return 0; fi
		sleep "$pause"
	done
	return 1
}

load_env() {
	LAB_DIR=$(realpath -m "$1")
	[[ -f $LAB_DIR/lab.env ]] || die "no lab in $LAB_DIR (lab.env missing; run up first)"
	# shellcheck disable=SC1091
	source "$LAB_DIR/lab.env"
}

nsx() { # nsx NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# print_logs: show the servers' logs, for a failed step.
print_logs() {
	local f
	for f in "$STATE"/logs/*.log "$LAB_DIR"/logs/client-*.log; do
		[[ -s $f ]] || continue
		printf '\n===== %s (last 40 lines) =====\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

listening() { # listening NS tcp|udp PORT
	local flag=-Hltn
	[[ $2 == udp ]] && flag=-Hlun
	[[ -n $(nsx "$1" ss "$flag" "sport = :$3" 2>/dev/null) ]]
}

wait_listen() { # wait_listen NS PROTO PORT WHAT
	retry 100 0.1 listening "$1" "$2" "$3" || die "$4 not listening on $2/$3 in $1 after 10s"
}

# start_daemon NAME NS CMD...: start CMD in NS in its own session, output to
# the state log, pid recorded for down.
start_daemon() {
	local name=$1 ns=$2
	shift 2
	setsid ip netns exec "$ns" "$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
	echo "$! $name" >>"$STATE/pids"
}

build_bins() {
	if [[ -n ${LAB_BIN:-} && -x $LAB_BIN/labclient && -x $LAB_BIN/labweb ]]; then
		return
	fi
	LAB_BIN=$LAB_DIR/bin
	mkdir -p "$LAB_BIN"
	log "building labclient and labweb"
	(cd "$HERE" && go build -o "$LAB_BIN/" ./cmd/labclient ./cmd/labweb) || die "go build failed"
}

make_certs() {
	local d=$STATE/tls
	mkdir -p "$d"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj "/O=orchard lab/CN=orchard lab CA" 2>/dev/null
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$d/server.key" -out "$d/server.csr" -subj "/O=orchard lab/CN=$MAIL_NAME" 2>/dev/null
	cat >"$d/server.ext" <<-EOF
		basicConstraints=CA:FALSE
		keyUsage=critical,digitalSignature
		extendedKeyUsage=serverAuth
		subjectAltName=DNS:$MAIL_NAME,DNS:apple.com,DNS:*.apple.com,DNS:*.icloud.com,DNS:*.ls.apple.com,DNS:*.push.apple.com,DNS:*.msftconnecttest.com,DNS:*.google.com,DNS:*.gstatic.com
	EOF
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
	chmod 644 "$d"/*.crt "$d"/*.key # postfix and dovecot read them after dropping root
	cp "$d/ca.crt" "$LAB_DIR/ca.crt"
}

start_dovecot() {
	local d=$STATE/dovecot home=$STATE/mail/$MAIL_USER
	mkdir -p "$d/run" "$d/state" "$home/Maildir/"{cur,new,tmp}
	cat >"$home/Maildir/new/1700000000.M1P1.lab" <<-EOF
		From: Bob <bob@corp.example>
		To: Alice <alice@corp.example>
		Subject: Quarterly numbers
		Date: Tue, 14 Nov 2023 22:13:20 +0000
		Message-ID: <lab-1@corp.example>

		The numbers are in the shared folder.
	EOF
	chown -R mail:mail "$STATE/mail"
	cat >"$d/dovecot.conf" <<-EOF
		protocols = imap
		listen = $MAIL_IP
		base_dir = $d/run
		state_dir = $d/state
		log_path = $STATE/logs/dovecot.log
		info_log_path = $STATE/logs/dovecot.log
		ssl = required
		ssl_cert = <$STATE/tls/server.crt
		ssl_key = <$STATE/tls/server.key
		ssl_dh = </usr/share/dovecot/dh.pem
		ssl_min_protocol = TLSv1.2
		disable_plaintext_auth = yes
		auth_mechanisms = plain login
		auth_verbose = yes
		mail_location = maildir:~/Maildir
		first_valid_uid = 8
		passdb {
		  driver = static
		  args = password=$MAIL_PASS
		}
		userdb {
		  driver = static
		  args = uid=mail gid=mail home=$STATE/mail/%u
		}
		service auth {
		  unix_listener $d/auth-postfix {
		    mode = 0666
		  }
		}
		service imap-login {
		  inet_listener imap {
		    port = 143
		  }
		  inet_listener imaps {
		    port = 993
		    ssl = yes
		  }
		}
	EOF
	start_daemon dovecot-stderr "$NS_SRV" dovecot -F -c "$d/dovecot.conf"
}

start_postfix() {
	local d=$STATE/postfix
	mkdir -p "$d/conf" "$d/spool" "$d/data"
	chown postfix "$d/data"
	cat >"$d/conf/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $d/spool
		data_directory = $d/data
		mail_owner = postfix
		myhostname = $MAIL_NAME
		mydomain = corp.example
		myorigin = corp.example
		mydestination =
		local_recipient_maps =
		relay_domains = corp.example
		relay_transport = discard:lab
		default_transport = discard:lab
		inet_interfaces = $MAIL_IP
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		alias_maps =
		alias_database =
		biff = no
		maillog_file = $STATE/logs/postfix.log
		maillog_file_prefixes = $STATE
		smtp_dns_support_level = disabled
		smtpd_peername_lookup = no
		smtpd_banner = \$myhostname ESMTP
		smtpd_tls_cert_file = $STATE/tls/server.crt
		smtpd_tls_key_file = $STATE/tls/server.key
		smtpd_tls_security_level = may
		smtpd_tls_loglevel = 1
		smtpd_sasl_type = dovecot
		smtpd_sasl_path = $STATE/dovecot/auth-postfix
		smtpd_sasl_auth_enable = no
		smtpd_relay_restrictions = permit_sasl_authenticated, reject
	EOF
	# Submission only (587): STARTTLS required, SASL through dovecot, no
	# chroot (the lab's paths are outside the spool).
	cat >"$d/conf/master.cf" <<-'EOF'
		submission inet n       -       n       -       -       smtpd
		  -o syslog_name=postfix/submission
		  -o smtpd_tls_security_level=encrypt
		  -o smtpd_sasl_auth_enable=yes
		  -o smtpd_tls_auth_only=yes
		  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		tlsmgr    unix  -       -       n       1000?   1       tlsmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	# check creates the queue directories with their owners.
	postfix -c "$d/conf" check >>"$STATE/logs/postfix-cmd.log" 2>&1 || true
	nsx "$NS_SRV" postfix -c "$d/conf" start >>"$STATE/logs/postfix-cmd.log" 2>&1 || die "postfix start failed"
	echo "postfix" >"$STATE/postfix-started"
}

start_dnsmasq() {
	local args=(
		--conf-file=/dev/null --keep-in-foreground --user=root --group=root
		--pid-file="$STATE/dnsmasq.pid" --interface=br0 --bind-interfaces
		--no-resolv --no-hosts --no-poll --log-facility="$STATE/logs/dnsmasq.log"
		--log-queries --log-dhcp --no-ping
		--dhcp-range="$DHCP_FIRST,$DHCP_LAST,255.255.255.0,1h" --dhcp-authoritative
		--dhcp-leasefile="$STATE/dnsmasq.leases"
		--dhcp-option-force=option:classless-static-route,"$SRV_CIDR,$GW_LAN"
		--dhcp-option=option:domain-name,corp.example
		--domain=corp.example
		--address="/$MAIL_NAME/$MAIL_IP"
	)
	local d
	for d in apple.com icloud.com apple-dns.net mzstatic.com \
		msftconnecttest.com microsoft.com microsoftonline.com windowsupdate.com office.com \
		google.com gstatic.com googleapis.com debian.org; do
		args+=(--address="/$d/$WEB_IP")
	done
	start_daemon dnsmasq-stderr "$NS_GW" dnsmasq "${args[@]}"
}

cmd_up() {
	LAB_DIR=$(realpath -m "$1")
	mkdir -p "$LAB_DIR/logs" "$LAB_DIR/clients"
	[[ -f $LAB_DIR/lab.env ]] && die "$LAB_DIR already holds a lab (run down first)"
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	local owner=${LAB_OWNER_PID:-$PPID}
	PREFIX=orl-$owner-$RANDOM-
	NS_GW=${PREFIX}gw
	NS_SRV=${PREFIX}srv
	# Server state lives outside DIR: postfix and dovecot drop privileges and
	# must traverse it, while DIR (often a test's 0700 temp dir) may not allow it.
	STATE=$(mktemp -d "/tmp/${PREFIX}XXXX")
	chmod 755 "$STATE"
	mkdir -p "$STATE/logs"
	chmod 777 "$STATE/logs"
	local profiles=${LAB_PROFILES:-$DEFAULT_PROFILES}
	local p
	for p in $profiles; do mac_for "$p" >/dev/null || die "unknown profile $p"; done
	build_bins
	cat >"$LAB_DIR/lab.env" <<-EOF
		PREFIX='$PREFIX'
		NS_GW='$NS_GW'
		NS_SRV='$NS_SRV'
		STATE='$STATE'
		LAB_BIN='$LAB_BIN'
		PROFILES='$profiles'
	EOF
	# From here on a failure tears down what was made.
	trap 'rc=$?; if ((rc != 0)); then log "up failed, tearing down"; print_logs; cmd_down "$LAB_DIR" || true; fi' EXIT

	ip netns add "$NS_GW"
	ip netns add "$NS_SRV"
	local ns
	for ns in "$NS_GW" "$NS_SRV"; do
		# IPv4 only: keeps the capture to what the test checks.
		nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	# A fixed MAC so orchard-lab.yaml can name the gateway as infrastructure.
	ip -n "$NS_GW" link add br0 address "$GW_MAC" type bridge stp_state 0 forward_delay 0
	ip -n "$NS_GW" addr add "$GW_LAN/24" dev br0
	ip -n "$NS_GW" link set br0 up
	ip -n "$NS_GW" link add srv0 type veth peer name eth0 netns "$NS_SRV"
	ip -n "$NS_GW" addr add "$GW_SRV/24" dev srv0
	ip -n "$NS_GW" link set srv0 up
	ip -n "$NS_SRV" addr add "$MAIL_IP/24" dev eth0
	ip -n "$NS_SRV" addr add "$WEB_IP/24" dev eth0
	ip -n "$NS_SRV" link set eth0 up
	ip -n "$NS_SRV" route add "$LAN_CIDR" via "$GW_SRV"
	nsx "$NS_GW" sysctl -qw net.ipv4.ip_forward=1

	local i=0
	for p in $profiles; do
		i=$((i + 1))
		ns=${PREFIX}$p
		ip netns add "$ns"
		echo "$p" >>"$STATE/clients"
		nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
		ip -n "$NS_GW" link add "lan$i" type veth peer name eth0 netns "$ns"
		ip -n "$ns" link set eth0 address "$(mac_for "$p")"
		ip -n "$NS_GW" link set "lan$i" master br0
		ip -n "$NS_GW" link set "lan$i" up
		ip -n "$ns" link set eth0 up
	done

	make_certs
	start_dovecot
	start_postfix
	start_dnsmasq
	start_daemon labweb "$NS_SRV" "$LAB_BIN/labweb" -addr "$WEB_IP" -cert "$STATE/tls/server.crt" -key "$STATE/tls/server.key"

	wait_listen "$NS_SRV" tcp 993 dovecot
	wait_listen "$NS_SRV" tcp 143 dovecot
	wait_listen "$NS_SRV" tcp 587 postfix
	wait_listen "$NS_SRV" tcp 80 labweb
	wait_listen "$NS_SRV" tcp 443 labweb
	wait_listen "$NS_GW" udp 53 dnsmasq
	wait_listen "$NS_GW" udp 67 dnsmasq
	trap - EXIT
	log "up: gateway $NS_GW (br0 $GW_LAN), server $NS_SRV ($MAIL_IP, $WEB_IP), clients: $profiles"
}

cmd_capture() {
	local what=$1
	load_env "$2"
	local pidf=$STATE/tcpdump.pid
	case $what in
	start)
		[[ -f $pidf ]] && die "capture already running"
		: >"$STATE/logs/tcpdump.log"
		# -s 65535 -B 65536: whole frames, even 64 KiB veth GSO frames, and a
		# 64 MiB ring (immediate mode uses TPACKET_V2, one snaplen-sized slot a
		# packet, and the default 2 MiB ring drops packets); -U: flush per
		# packet; -Z root: write into DIR, which the tcpdump user cannot.
		setsid ip netns exec "$NS_GW" tcpdump -i br0 -s 65535 -B 65536 -U -n -Z root --immediate-mode \
			-w "$LAB_DIR/lab.pcap" </dev/null >>"$STATE/logs/tcpdump.log" 2>&1 &
		echo $! >"$pidf"
		retry 100 0.1 grep -q 'listening on' "$STATE/logs/tcpdump.log" || {
			print_logs
			die "tcpdump did not start"
		}
		log "capturing on $NS_GW br0 -> $LAB_DIR/lab.pcap"
		;;
	stop)
		[[ -f $pidf ]] || die "no capture running"
		local pid
		pid=$(<"$pidf")
		# Let the last FIN/ACKs of the clients reach the bridge first.
		sleep 0.3
		kill -INT "$pid" 2>/dev/null || true
		retry 100 0.1 eval '! running "$pid"' || {
			kill -KILL "$pid" 2>/dev/null || true
			die "tcpdump did not exit on SIGINT"
		}
		rm -f "$pidf"
		grep -E 'packets (captured|received|dropped)' "$STATE/logs/tcpdump.log" >&2 || true
		;;
	*) die "capture start|stop" ;;
	esac
}

cmd_traffic() {
	load_env "$1"
	local p ns rc=0
	local -A pids=()
	for p in $PROFILES; do
		ns=${PREFIX}$p
		rm -f "$LAB_DIR/clients/$p.json"
		timeout 90 ip netns exec "$ns" "$LAB_BIN/labclient" -profile "$p" -iface eth0 \
			-ca "$STATE/tls/ca.crt" -ns "$ns" -out "$LAB_DIR/clients/$p.json" -timeout 75s \
			</dev/null 2>"$LAB_DIR/logs/client-$p.log" &
		pids[$p]=$!
	done
	for p in "${!pids[@]}"; do
		if ! wait "${pids[$p]}"; then
			log "client $p failed"
			rc=1
		fi
	done
	# Manifest: the lab's facts plus one line per client (labclient's JSON).
	{
		printf '{"gateway_ns":"%s","server_ns":"%s","bridge":"br0","lan":"%s","gateway_ip":"%s",' \
			"$NS_GW" "$NS_SRV" "$LAN_CIDR" "$GW_LAN"
		printf '"mail_server":{"name":"%s","ip":"%s","ports":[143,587,993]},"web_ip":"%s",' \
			"$MAIL_NAME" "$MAIL_IP" "$WEB_IP"
		printf '"pcap":"%s","clients":[' "$LAB_DIR/lab.pcap"
		local first=1
		for p in $PROFILES; do
			[[ -s $LAB_DIR/clients/$p.json ]] || continue
			((first)) || printf ','
			first=0
			tr -d '\n' <"$LAB_DIR/clients/$p.json"
		done
		printf ']}\n'
	} >"$LAB_DIR/manifest.json"
	if ((rc != 0)); then
		print_logs
		die "traffic: some clients failed (see $LAB_DIR/logs/client-*.log)"
	fi
	log "traffic: all clients done; manifest $LAB_DIR/manifest.json"
}

# running PID: the process exists and is not a zombie (a daemon whose parent,
# an earlier lab.sh, has exited is reaped by init only later).
running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

# kill_pids PID...: TERM all, then KILL whatever is left after 3s.
kill_pids() {
	(($# > 0)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	local i pid alive
	for ((i = 0; i < 30; i++)); do
		alive=()
		for pid in "$@"; do running "$pid" && alive+=("$pid"); done
		((${#alive[@]} == 0)) && return 0
		sleep 0.1
	done
	kill -KILL "${alive[@]}" 2>/dev/null || true
}

cmd_down() {
	LAB_DIR=$(realpath -m "$1")
	[[ -f $LAB_DIR/lab.env ]] || return 0
	# shellcheck disable=SC1091
	source "$LAB_DIR/lab.env"
	if [[ -f $STATE/tcpdump.pid ]]; then
		kill -INT "$(<"$STATE/tcpdump.pid")" 2>/dev/null || true
		sleep 0.2
	fi
	if [[ -f $STATE/postfix-started ]]; then
		postfix -c "$STATE/postfix/conf" stop >>"$STATE/logs/postfix-cmd.log" 2>&1 || true
	fi
	local pid name ns pids=() nss
	if [[ -f $STATE/pids ]]; then
		while read -r pid name; do pids+=("$pid"); done <"$STATE/pids"
	fi
	# Whatever is still running in the lab's namespaces was started by the lab.
	nss=$(ip netns list | awk '{print $1}' | grep -F -- "$PREFIX" || true)
	for ns in $nss; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$pid"); done
	done
	kill_pids "${pids[@]}"
	for ns in $nss; do
		ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
	done
	mkdir -p "$LAB_DIR/logs"
	cp -f "$STATE"/logs/*.log "$LAB_DIR/logs/" 2>/dev/null || true
	[[ $STATE == /tmp/orl-* ]] && rm -rf "$STATE"
	rm -f "$LAB_DIR/lab.env"
	log "down: namespaces ${PREFIX}* deleted; logs in $LAB_DIR/logs"
}

cmd_sweep() {
	local ns owner
	for ns in $(ip netns list | awk '{print $1}' | grep '^orl-[0-9]*-' || true); do
		owner=${ns#orl-}
		owner=${owner%%-*}
		if ! kill -0 "$owner" 2>/dev/null; then
			# shellcheck disable=SC2046
			kill_pids $(ip netns pids "$ns" 2>/dev/null)
			ip netns del "$ns" && log "swept $ns"
		fi
	done
}

cmd_exec() {
	load_env "$1"
	local ns=$2
	shift 2
	case $ns in
	gw) ns=$NS_GW ;;
	srv) ns=$NS_SRV ;;
	*) ns=${PREFIX}$ns ;;
	esac
	exec ip netns exec "$ns" "$@"
}

cmd_all() {
	LAB_DIR=$(realpath -m "$1")
	[[ -f $LAB_DIR/lab.env ]] && die "$LAB_DIR already holds a lab (run down first)"
	trap 'rc=$?; cmd_down "$LAB_DIR" || true; exit $rc' EXIT
	trap 'exit 130' INT TERM
	cmd_up "$LAB_DIR"
	trap 'rc=$?; cmd_down "$LAB_DIR" || true; exit $rc' EXIT
	cmd_capture start "$LAB_DIR"
	cmd_traffic "$LAB_DIR"
	cmd_capture stop "$LAB_DIR"
}

usage() {
	sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case ${1:-} in
up) [[ $# -eq 2 ]] || usage; cmd_up "$2" ;;
capture) [[ $# -eq 3 ]] || usage; cmd_capture "$2" "$3" ;;
traffic) [[ $# -eq 2 ]] || usage; cmd_traffic "$2" ;;
down) [[ $# -eq 2 ]] || usage; cmd_down "$2" ;;
all) [[ $# -eq 2 ]] || usage; cmd_all "$2" ;;
exec) [[ $# -ge 4 ]] || usage; shift; cmd_exec "$@" ;;
sweep) cmd_sweep ;;
*) usage ;;
esac
