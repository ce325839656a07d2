#!/usr/bin/env bash
# bench-live.sh — live-capture benchmark (make bench-live), as root.
#
# For afpacket and ebpf: replays the benchmark capture (gencap bench, office
# mix) with tcpreplay --topspeed onto a veth between two test namespaces
# while `orchard run` captures on the far end, and reports packets/s
# reached, kernel / ring-buffer / queue drops and CPU seconds per million
# packets (utime+stime of the orchard process from /proc/PID/stat).
# Then the flood: 1,000,000 SYNs from random sources at top speed, then the
# office capture at 20k packets/s; orchard must still run, its peak RSS
# (VmHWM) stay under 256 MB, and the office traffic's alerts still be raised.
#
# Traffic stays inside the namespaces this script creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/orchard}
PACKETS=${PACKETS:-200000}
FLOOD=${FLOOD:-1000000}
[ "$(id -u)" = 0 ] || { echo "bench-live: needs root (network namespaces, eBPF, AF_PACKET)" >&2; exit 1; }
command -v tcpreplay >/dev/null || { echo "bench-live: tcpreplay missing (make deps)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench-live: $BIN missing (make build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/orchard-bench-live.XXXXXX)
ID=$$
NSG=obl-$ID-g NSM=obl-$ID-m VG=oblg$ID VM=oblm$ID
ORCH=
cleanup() {
	[ -n "$ORCH" ] && kill "$ORCH" 2>/dev/null || true
	ip netns del "$NSG" 2>/dev/null || true
	ip netns del "$NSM" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

echo "== generating captures in $TMP"
go run ./scripts/gencap/cmd/gencap -kind bench -n "$PACKETS" -seed 1 -o "$TMP/bench.pcap" >/dev/null 2>&1
go run ./scripts/gencap/cmd/gencap -kind flood -n "$FLOOD" -seed 1 -o "$TMP/flood.pcap" >/dev/null 2>&1
go run ./scripts/gencap/cmd/gencap -kind office -seed 3 -o "$TMP/office.pcap" >/dev/null 2>&1

ip netns add "$NSG"; ip netns add "$NSM"
ip -n "$NSG" link add "$VG" mtu 9000 type veth peer name "$VM" netns "$NSM" mtu 9000
for ns in "$NSG" "$NSM"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip -n "$ns" link set lo up; done
ip -n "$NSG" link set "$VG" up; ip -n "$NSM" link set "$VM" up

metric() { # metric NAME: sum of the samples of a metric
	ip netns exec "$NSM" bash -c 'exec 3<>/dev/tcp/127.0.0.1/19157; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' |
		awk -v n="$1" '$1 ~ "^"n"({|$)" {s += $2} END {printf "%.0f", s}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

start() { # start MODE
	cat >"$TMP/$1.yaml" <<YAML
sensor: bench
mail:
  servers:
    - name: corp-mail
      names: [mail.corp.example]
      addresses: [192.0.2.10]
      protocols: [imap, imaps, submission, smtps, https]
capture:
  interfaces: [$VM]
  mode: $1
outputs:
  file: $TMP/$1/alerts.jsonl
metrics:
  listen: 127.0.0.1:19157
YAML
	ip netns exec "$NSM" "$BIN" run -c "$TMP/$1.yaml" >"$TMP/$1.out" 2>"$TMP/$1.err" &
	ORCH=$!
	for _ in $(seq 100); do grep -q "capturing on" "$TMP/$1.err" && return 0; sleep 0.1; done
	echo "bench-live: orchard run ($1) did not start:" >&2; cat "$TMP/$1.err" >&2; exit 1
}
stop() {
	kill -TERM "$ORCH"; wait "$ORCH" || { echo "bench-live: orchard exited with $?" >&2; cat "$TMP/$1.err" >&2; }
	ORCH=
}

CLK=$(getconf CLK_TCK)
[ "${SKIP_BENCH:-}" = 1 ] || {
printf "\n%-9s %12s %12s %10s %10s %10s %10s %14s\n" mode replay_pps kernel_pkts user_pkts k_drops rb_drops q_drops cpu_s_per_Mpkt
for mode in afpacket ebpf; do
	start "$mode"
	t0=$(cpu_ticks "$ORCH")
	rate=$(ip netns exec "$NSG" tcpreplay -i "$VG" --topspeed "$TMP/bench.pcap" 2>&1 | awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i ~ /pps/) print $(i-1)}' | head -1)
	sleep 1
	t1=$(cpu_ticks "$ORCH")
	kp=$(metric orchard_kernel_packets_total); up=$(metric orchard_packets_total)
	kd=$(metric orchard_kernel_drops_total); rd=$(metric orchard_ringbuf_drops_total); qd=$(metric orchard_queue_drops_total)
	cpu=$(awk -v d=$((t1 - t0)) -v c="$CLK" -v p="$PACKETS" 'BEGIN {printf "%.3f", d / c / (p / 1e6)}')
	printf "%-9s %12s %12s %10s %10s %10s %10s %14s\n" "$mode" "$rate" "$kp" "$up" "$kd" "$rd" "$qd" "$cpu"
	stop "$mode"
done
}

echo
echo "== flood: $FLOOD SYNs from random sources at top speed, then the office capture"
status=0
for mode in afpacket ebpf; do
	start "$mode"
	ip netns exec "$NSG" tcpreplay -q -i "$VG" --topspeed "$TMP/flood.pcap" >/dev/null 2>&1
	sleep 1
	ip netns exec "$NSG" tcpreplay -q -i "$VG" --pps=20000 "$TMP/office.pcap" >/dev/null 2>&1
	sleep 2
	alive=yes; kill -0 "$ORCH" 2>/dev/null || alive=no
	hwm=$(hwm_mb "$ORCH"); kd=$(metric orchard_kernel_drops_total); rd=$(metric orchard_ringbuf_drops_total); qd=$(metric orchard_queue_drops_total)
	hosts=$(metric orchard_hosts)
	stop "$mode"
	alerts=$(grep -c '"kind":"alert"' "$TMP/$mode.out" || true)
	echo "$mode: running after flood: $alive; peak RSS ${hwm} MB; hosts $hosts; drops kernel $kd, ring buffer $rd, queue $qd; alerts after the flood: $alerts"
	if [ "$alive" != yes ] || [ "$hwm" -ge 256 ] || [ "$alerts" -eq 0 ]; then
		echo "bench-live: $mode FAILED the flood check (running, RSS < 256 MB, alerts raised)" >&2
		status=1
	fi
done
exit $status
