// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// orchard's TC pre-filter. It runs on ingress and egress of the capture
// interface (tcx, or clsact on older kernels), never changes a verdict, and
// copies to user space, through one BPF ring buffer, only the packets the
// detection needs: DNS, DHCP, ARP/NDP, TCP SYNs, each TCP flow's client first
// flight until its ClientHello (or request head) is complete, QUIC long-header
// Initials, and the starts, ends and a periodic sample of flows to configured
// mail servers. Packets and bytes of every TCP flow are counted in the flows
// map, which user space reads when a flow ends, so bulk traffic never leaves
// the kernel. Nothing is dropped silently: a full ring buffer is counted.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_CAP 16384      // bytes copied of one packet at most
#define HDR_CAP 256        // bytes copied of mail-flow control packets
#define FF_MAX_PKTS 8      // client first-flight payload packets passed at most
#define FF_MAX_BYTES 16384 // client first-flight bytes passed at most
#define MAIL_SAMPLE_NS (30ULL * 1000000000ULL) // a mail flow passes one packet this often

// Why a packet was passed (event.reason); also indexes stats.passed.
enum reason {
	R_NONE = 0,
	R_DNS,
	R_DHCP,
	R_ARP,
	R_NDP,
	R_SYN,
	R_FIRST_FLIGHT,
	R_QUIC,
	R_MAIL,
	R_TCP_DNS,
	R_OTHER, // IPv6 extension headers: not parsed here, passed
	R_MAX = 16,
};

// Flow flags.
#define FL_MAIL 1 // server address is in mail_prefixes
#define FL_DONE 2 // client first flight complete
#define FL_TLS 4  // client first flight is TLS
#define FL_DNS 8  // DNS over TCP: every packet passes

struct event {
	__u64 ts_ns;    // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u32 ifindex;
	__u32 len;      // original length of the frame
	__u32 cap;      // bytes of data that follow
	__u16 vlan_tci; // offloaded VLAN tag, valid when flags & 1
	__u8 dir;       // 0 ingress, 1 egress
	__u8 reason;
	__u32 flags;
	__u32 _pad;
};

struct scratch {
	struct event ev;
	__u8 data[MAX_CAP];
};

// Addresses are 16 bytes; IPv4 as ::ffff:a.b.c.d. The key is ordered
// (a, b) by comparing the addresses, so both directions find one entry.
struct flow_key {
	__u8 a[16];
	__u8 b[16];
	__u16 aport;
	__u16 bport;
	__u8 proto;
	__u8 _pad[3];
};

struct flow_val {
	__u64 pkts[2];  // [0] sent by a, [1] sent by b
	__u64 bytes[2]; // IP bytes
	__u64 first_ns;
	__u64 last_ns;
	__u64 pass_ns;  // last packet passed (mail-flow sampling)
	__u32 ff_bytes;
	__u32 ff_need;
	__u16 ff_pkts;
	__u8 client; // 0: a is the client, 1: b is
	__u8 flags;
	__u32 _pad;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

// stats is a per-CPU array of one entry; user space sums the CPUs.
struct counters {
	__u64 seen_pkts;
	__u64 seen_bytes;
	__u64 passed_pkts;
	__u64 passed_bytes;
	__u64 ringbuf_drops;
	__u64 flows;
	__u64 mail_flows;
	__u64 flow_map_full;
	__u64 passed[R_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); // user space resizes before load
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); // user space resizes before load
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} mail_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");


// pkt is what the parser learns about one packet.
struct pkt {
	struct flow_key key; // oriented sender -> receiver until ordered
	__u32 l4off;
	__u32 iplen; // IP total length (header + payload)
	__u32 plen;  // L4 payload length
	__u32 poff;  // L4 payload offset
	__u8 tcpflags;
	__u8 v6;
};

static __always_inline int addr_less(const __u8 *x, const __u8 *y)
{
	const __u64 *a = (const __u64 *)x, *b = (const __u64 *)y;
	if (a[0] != b[0])
		return a[0] < b[0];
	return a[1] < b[1];
}

static __always_inline int in_mail(const __u8 *addr)
{
	struct lpm_key k = {.prefixlen = 128};
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&mail_prefixes, &k) != NULL;
}

static __always_inline void pass(struct __sk_buff *skb, struct counters *st, __u8 dir, __u8 reason, __u32 cap)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	__u32 len = skb->len;
	if (cap > len)
		cap = len;
	if (cap > MAX_CAP)
		cap = MAX_CAP;
	if (cap < 1)
		return;
	if (bpf_skb_load_bytes(skb, 0, s->data, cap) < 0)
		return;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.ifindex = skb->ifindex;
	s->ev.len = len;
	s->ev.cap = cap;
	s->ev.vlan_tci = skb->vlan_tci;
	s->ev.flags = skb->vlan_present ? 1 : 0;
	s->ev.dir = dir;
	s->ev.reason = reason;
	if (bpf_ringbuf_output(&events, s, sizeof(struct event) + cap, 0) < 0) {
		st->ringbuf_drops++;
		return;
	}
	st->passed_pkts++;
	st->passed_bytes += len;
	if (reason < R_MAX)
		st->passed[reason]++;
}

static __always_inline int is_quic_initial(struct __sk_buff *skb, __u32 off, __u32 plen)
{
	__u8 b[6];
	if (plen < 7 || bpf_skb_load_bytes(skb, off, b, 6) < 0)
		return 0;
	if (!(b[0] & 0x80) || b[5] > 20)
		return 0;
	__u32 ver = ((__u32)b[1] << 24) | ((__u32)b[2] << 16) | ((__u32)b[3] << 8) | b[4];
	__u8 typ = (b[0] >> 4) & 3;
	if (ver == 0x00000001 || ver == 0xff00001d)
		return typ == 0;
	if (ver == 0x6b3343cf)
		return typ == 1;
	return 0;
}

static __always_inline int dhcp_port(__u16 p) { return p == 67 || p == 68 || p == 546 || p == 547; }

// first_flight decides whether a client payload packet still belongs to the
// first flight, updating the flow's budget.
static __always_inline int first_flight(struct __sk_buff *skb, struct flow_val *v, struct pkt *p)
{
	if (v->flags & FL_DONE)
		return 0;
	if (v->ff_pkts == 0) {
		__u8 b[9] = {};
		__u32 n = p->plen < 9 ? p->plen : 9;
		if (n > 0 && bpf_skb_load_bytes(skb, p->poff, b, n == 9 ? 9 : 1) < 0)
			return 0;
		__u8 c = b[0];
		if (c == 0x16 && n == 9 && b[5] == 1) {
			__u32 reclen = ((__u32)b[3] << 8) | b[4];
			__u32 hs = 4 + (((__u32)b[6] << 16) | ((__u32)b[7] << 8) | b[8]);
			__u32 need = 5 + reclen;
			if (reclen > 0 && hs > reclen)
				need = hs + 5 * ((hs + reclen - 1) / reclen); // split over records
			if (need > FF_MAX_BYTES)
				need = FF_MAX_BYTES;
			v->ff_need = need;
			v->flags |= FL_TLS;
		} else if (c == 0x16 || c == 0x04 || c == 0x05 || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			   (c >= 'a' && c <= 'z')) {
			// HTTP, mail commands (maybe STARTTLS), SOCKS: budget only.
			v->ff_need = FF_MAX_BYTES;
		} else {
			v->ff_need = p->plen; // nothing orchard reads: this packet only
		}
	}
	v->ff_pkts++;
	v->ff_bytes += p->plen;
	if (v->ff_bytes >= v->ff_need || v->ff_pkts >= FF_MAX_PKTS)
		v->flags |= FL_DONE;
	return 1;
}

static __always_inline void tcp(struct __sk_buff *skb, struct counters *st, __u8 dir, struct pkt *p)
{
	__u8 fl = p->tcpflags; // FIN 1, SYN 2, RST 4, ACK 16
	int syn = (fl & 0x02) && !(fl & 0x10);
	struct flow_key k = {};
	int side; // 0: sender is k.a
	if (addr_less(p->key.b, p->key.a) || (!addr_less(p->key.a, p->key.b) && p->key.bport < p->key.aport)) {
		__builtin_memcpy(k.a, p->key.b, 16);
		__builtin_memcpy(k.b, p->key.a, 16);
		k.aport = p->key.bport;
		k.bport = p->key.aport;
		side = 1;
	} else {
		__builtin_memcpy(k.a, p->key.a, 16);
		__builtin_memcpy(k.b, p->key.b, 16);
		k.aport = p->key.aport;
		k.bport = p->key.bport;
		side = 0;
	}
	k.proto = IPPROTO_TCP;
	__u64 now = bpf_ktime_get_ns();
	struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
	if (!v) {
		struct flow_val nv = {};
		// The client sends the SYN; without one, the side with the larger
		// port is the client (as the user-space engine decides).
		int sender_client = (fl & 0x02) ? !(fl & 0x10) : bpf_ntohs(p->key.aport) >= bpf_ntohs(p->key.bport);
		nv.client = sender_client ? side : !side;
		const __u8 *server = sender_client ? p->key.b : p->key.a;
		if (in_mail(server))
			nv.flags |= FL_MAIL;
		if (p->key.aport == bpf_htons(53) || p->key.bport == bpf_htons(53))
			nv.flags |= FL_DNS;
		nv.first_ns = now;
		if (bpf_map_update_elem(&flows, &k, &nv, BPF_NOEXIST) == 0) {
			st->flows++;
			if (nv.flags & FL_MAIL)
				st->mail_flows++;
		}
		v = bpf_map_lookup_elem(&flows, &k);
		if (!v) {
			st->flow_map_full++;
			if (syn)
				pass(skb, st, dir, R_SYN, MAX_CAP);
			return;
		}
	}
	__sync_fetch_and_add(&v->pkts[side], 1);
	__sync_fetch_and_add(&v->bytes[side], p->iplen);
	v->last_ns = now;

	__u8 reason = R_NONE;
	__u32 cap = MAX_CAP;
	if (syn)
		reason = R_SYN;
	else if (v->flags & FL_DNS)
		reason = R_TCP_DNS;
	else if (p->plen > 0 && side == v->client && first_flight(skb, v, p))
		reason = R_FIRST_FLIGHT;
	if (reason == R_NONE && (v->flags & FL_MAIL)) {
		if ((fl & 0x07) || now - v->pass_ns > MAIL_SAMPLE_NS) {
			reason = R_MAIL;
			cap = HDR_CAP;
		}
	}
	if (reason == R_NONE)
		return;
	v->pass_ns = now;
	pass(skb, st, dir, reason, cap);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0;
	struct counters *st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return TC_ACT_UNSPEC;
	st->seen_pkts++;
	st->seen_bytes += skb->len;

	// Headers are read directly when they are in the linear part; pull
	// once if they are not (GRO/GSO frames keep headers linear as a rule).
	if ((long)skb->data + 14 + 8 + 60 + 60 > (long)skb->data_end)
		bpf_skb_pull_data(skb, skb->len < 142 ? skb->len : 142);
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 off = sizeof(struct ethhdr);
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	__u16 proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		__u16 *inner = data + off + 2;
		if ((void *)(inner + 1) > end)
			return TC_ACT_UNSPEC;
		proto = *inner;
		off += 4;
	}

	struct pkt p = {};
	__u8 l4;
	if (proto == bpf_htons(ETH_P_ARP)) {
		pass(skb, st, dir, R_ARP, MAX_CAP);
		return TC_ACT_UNSPEC;
	} else if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > end)
			return TC_ACT_UNSPEC;
		__u32 ihl = ip->ihl * 4;
		if (ihl < 20)
			return TC_ACT_UNSPEC;
		if (ip->frag_off & bpf_htons(0x3fff))
			return TC_ACT_UNSPEC; // fragments: the engine does not reassemble
		p.key.a[10] = p.key.a[11] = 0xff;
		p.key.b[10] = p.key.b[11] = 0xff;
		__builtin_memcpy(&p.key.a[12], &ip->saddr, 4);
		__builtin_memcpy(&p.key.b[12], &ip->daddr, 4);
		p.iplen = bpf_ntohs(ip->tot_len);
		__u32 avail = skb->len - off;
		if (p.iplen == 0 || p.iplen > avail)
			p.iplen = avail; // GSO frames may carry 0
		l4 = ip->protocol;
		p.l4off = off + ihl;
		if (p.iplen < ihl)
			return TC_ACT_UNSPEC;
		p.plen = p.iplen - ihl;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(p.key.a, &ip6->saddr, 16);
		__builtin_memcpy(p.key.b, &ip6->daddr, 16);
		p.iplen = 40 + bpf_ntohs(ip6->payload_len);
		__u32 avail = skb->len - off;
		if (p.iplen == 40 || p.iplen > avail)
			p.iplen = avail;
		l4 = ip6->nexthdr;
		p.l4off = off + 40;
		p.plen = p.iplen - 40;
		p.v6 = 1;
		if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP && l4 != IPPROTO_ICMPV6) {
			// Extension headers are rare on a LAN; pass what we cannot place.
			if (l4 == 0 || l4 == 43 || l4 == 60)
				pass(skb, st, dir, R_OTHER, MAX_CAP);
			return TC_ACT_UNSPEC;
		}
	} else {
		return TC_ACT_UNSPEC;
	}

	if (l4 == IPPROTO_TCP) {
		struct tcphdr *th = data + p.l4off;
		if ((void *)(th + 1) > end)
			return TC_ACT_UNSPEC;
		__u32 thl = th->doff * 4;
		if (thl < 20 || thl > p.plen)
			return TC_ACT_UNSPEC;
		p.key.aport = th->source;
		p.key.bport = th->dest;
		p.tcpflags = ((__u8 *)th)[13];
		p.plen -= thl;
		p.poff = p.l4off + thl;
		tcp(skb, st, dir, &p);
	} else if (l4 == IPPROTO_UDP) {
		struct udphdr *uh = data + p.l4off;
		if ((void *)(uh + 1) > end)
			return TC_ACT_UNSPEC;
		__u16 sp = bpf_ntohs(uh->source), dp = bpf_ntohs(uh->dest);
		if (p.plen < 8)
			return TC_ACT_UNSPEC;
		p.plen -= 8;
		p.poff = p.l4off + 8;
		if (sp == 53 || dp == 53 || sp == 5353 || dp == 5353)
			pass(skb, st, dir, R_DNS, MAX_CAP);
		else if (dhcp_port(sp) && dhcp_port(dp))
			pass(skb, st, dir, R_DHCP, MAX_CAP);
		else if (is_quic_initial(skb, p.poff, p.plen))
			pass(skb, st, dir, R_QUIC, MAX_CAP);
	} else if (l4 == IPPROTO_ICMPV6 && p.v6) {
		__u8 *t = data + p.l4off;
		if ((void *)(t + 1) > end)
			return TC_ACT_UNSPEC;
		if (*t >= 133 && *t <= 137) // RS, RA, NS, NA, redirect
			pass(skb, st, dir, R_NDP, MAX_CAP);
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int orchard_ingress(struct __sk_buff *skb) { return handle(skb, 0); }

SEC("tc")
int orchard_egress(struct __sk_buff *skb) { return handle(skb, 1); }
