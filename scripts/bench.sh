#!/usr/bin/env bash
# make bench: throughput and memory of orchard analyze on captures made by
# the project's own generator, compared with tshark on the same files, plus
# the Go micro-benchmarks of the hot paths.
#
#   office     200,000 packets, >= 80% bulk payload (DNS, TLS on 443/993/465, SYNs)
#   handshake  200,000 packets, 15% ClientHellos (many post-quantum, 2 segments)
#   office-10x 2,000,000 packets: peak RSS must stay flat (<= 1.5x the 200k peak)
#
# Every figure is on one core (GOMAXPROCS=1) and printed as a table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.out/bench
mkdir -p "$out"
bin=bin/orchard
[ -x "$bin" ] || make build >/dev/null

if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null || true
fi

gen() { # kind packets file
	[ -s "$3" ] || go run ./scripts/gencap/cmd/gencap -kind "$1" -n "$2" -seed 1 -o "$3" >/dev/null
}
gen bench 200000 "$out/office.pcap"
gen handshake 200000 "$out/handshake.pcap"
gen bench 2000000 "$out/office-10x.pcap"

# RUNS: runs per measurement (median and best are reported: a shared or
# virtual machine's speed varies from run to run, and a single run, the
# first especially (page cache), can mislead).
RUNS=${RUNS:-5}

# run1 FILE ARGS... -> "pkts/s rss_kb cpu_s" of one run
run1() {
	local f=$1; shift
	local log; log=$(mktemp)
	if [ -x /usr/bin/time ]; then
		GOMAXPROCS=1 /usr/bin/time -v "$bin" analyze "$@" "$f" >/dev/null 2>"$log"
		rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$log")
		cpu=$(awk -F: '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$log")
	else
		GOMAXPROCS=1 "$bin" analyze "$@" "$f" >/dev/null 2>"$log"
		rss=NA; cpu=NA
	fi
	pps=$(sed -n 's/.*(\([0-9]*\) packets\/s).*/\1/p' "$log" | head -1)
	rm -f "$log"
	echo "$pps $rss $cpu"
}

# run FILE ARGS... -> "median_pps best_pps max_rss_kb median_cpu_s" over RUNS runs
run() {
	local i n tmp pps best rss cpu
	tmp=$(mktemp)
	for i in $(seq "$RUNS"); do run1 "$@"; done >"$tmp"
	n=$(wc -l <"$tmp")
	pps=$(cut -d' ' -f1 "$tmp" | sort -n | sed -n "$(((n + 1) / 2))p")
	best=$(cut -d' ' -f1 "$tmp" | sort -n | tail -1)
	rss=$(cut -d' ' -f2 "$tmp" | sort -n | tail -1)
	cpu=$(cut -d' ' -f3 "$tmp" | sort -n | sed -n "$(((n + 1) / 2))p")
	rm -f "$tmp"
	echo "$pps $best $rss $cpu"
}

tshark_pps() {
	command -v tshark >/dev/null || { echo NA; return; }
	local n t0 t1
	n=$(capinfos -c -M "$1" 2>/dev/null | awk '/Number of packets/ {print $NF}')
	t0=$(date +%s.%N)
	tshark -n -r "$1" -T fields -e tls.handshake.ja3 -e dns.qry.name >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n/(b-a) }'
}

printf '%-40s %12s %12s %12s %8s\n' "run (GOMAXPROCS=1, $RUNS runs each)" "median pkt/s" "best pkt/s" "peak RSS KB" "CPU s" > "$out/results.txt"
for f in office handshake office-10x; do
	read -r pps best rss cpu < <(run "$out/$f.pcap")
	printf '%-40s %12s %12s %12s %8s\n' "orchard analyze $f" "$pps" "$best" "$rss" "$cpu" >> "$out/results.txt"
	read -r pps best rss cpu < <(run "$out/$f.pcap" --events)
	printf '%-40s %12s %12s %12s %8s\n' "orchard analyze --events $f" "$pps" "$best" "$rss" "$cpu" >> "$out/results.txt"
done
for f in office handshake; do
	printf '%-40s %12s %12s %12s %8s\n' "tshark -T fields ja3,dns.qry.name $f" "$(tshark_pps "$out/$f.pcap")" "" "" "" >> "$out/results.txt"
done

echo "== Go benchmarks (decode path alone, parsers, verdict update)" >> "$out/results.txt"
# ReadFile: read(2) and the record headers of the office file alone, the
# floor under orchard analyze on it.
GOMAXPROCS=1 go test -run '^$' -bench 'Engine|ReadFile' -benchtime 3x -benchmem ./capture >> "$out/results.txt" 2>&1 || true
GOMAXPROCS=1 go test -run '^$' -bench . -benchmem \
	./capture/tlshello ./capture/quic ./capture/tcpfp ./capture/dnsmsg ./agent/verdict ./agent >> "$out/results.txt" 2>&1 || true
grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok\)' "$out/results.txt"
