// Package ecs writes orchard's JSON lines with Elastic Common Schema field
// names, as nested objects: observations (--events), host states (--hosts),
// work-mail events, and alerts; and the --summary table. The field names are
// a public contract (DESIGN.md "Contracts"); golden tests pin them.
//
// Every Append function appends one line, with its trailing newline, to dst
// and returns it, so callers reuse one buffer. It imports capture/observe,
// signatures and the agent packages whose values it encodes; it has no
// errors except those of the io.Writer given to WriteSummary.
package ecs

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/orchard-nsm/orchard/agent"
	"github.com/orchard-nsm/orchard/agent/correlate"
	"github.com/orchard-nsm/orchard/agent/mail"
	"github.com/orchard-nsm/orchard/agent/verdict"
	"github.com/orchard-nsm/orchard/capture/observe"
)

// datasets are the event.dataset of each observation kind, made once
// rather than per line.
var datasets = func() (d [256]string) {
	for k := range d {
		d[k] = "orchard." + observe.Kind(k).String()
	}
	return d
}()

func dataset(k observe.Kind) string { return datasets[k] }

// AppendEvent appends one observation as an `event.kind: event` line.
func AppendEvent(dst []byte, o *observe.Observation) []byte {
	w := begin(dst)
	w.time("@timestamp", o.Time)
	w.open("event")
	w.str("kind", "event")
	w.str("dataset", dataset(o.Kind))
	if o.Kind == observe.KindFlow && o.Flow != nil {
		w.time("start", o.Flow.Start)
		w.time("end", o.Flow.End)
		w.str("action", "flow-"+o.Flow.Reason)
	}
	w.close()
	endpoints(&w, o)
	w.open("network")
	w.str("transport", o.Transport.String())
	w.str("community_id", o.Community())
	w.str("protocol", protocol(o))
	if o.VLAN != 0 {
		w.open("vlan")
		w.uint("id", uint64(o.VLAN))
		w.close()
	}
	if f := o.Flow; o.Kind == observe.KindFlow && f != nil {
		w.uint("packets", f.PacketsOut+f.PacketsIn)
		w.uint("bytes", f.BytesOut+f.BytesIn)
	}
	w.close()

	switch o.Kind {
	case observe.KindTLS:
		if o.TLS != nil {
			w.open("tls")
			w.open("client")
			w.str("server_name", o.TLS.ServerName)
			w.str("ja3", o.TLS.JA3)
			w.str("ja4", o.TLS.JA4)
			w.close()
			w.close()
		}
	case observe.KindDNS, observe.KindMDNS:
		if o.DNS != nil {
			dns(&w, o.DNS, o.Kind == observe.KindMDNS)
		}
	case observe.KindHTTP:
		if h := o.HTTP; h != nil {
			w.open("http")
			w.open("request")
			w.str("method", h.Method)
			w.close()
			w.str("version", h.Version)
			w.close()
			w.open("url")
			w.str("original", h.Target)
			w.str("domain", h.Host)
			w.close()
			if h.UserAgent != "" {
				w.open("user_agent")
				w.str("original", h.UserAgent)
				w.close()
			}
		}
	}

	w.open("orchard")
	w.str("file", o.Source)
	w.uintNZ("packet", o.Packet)
	switch o.Kind {
	case observe.KindTLS:
		if t := o.TLS; t != nil {
			w.open("tls")
			w.str("ja3_string", t.JA3String)
			w.str("ja4_r", t.JA4R)
			w.strs("alpn", t.ALPN)
			w.str("prologue", t.Prologue)
			w.strs("oddities", t.Oddities)
			w.close()
			if q := t.QUIC; q != nil {
				w.open("quic")
				w.uint("version", uint64(q.Version))
				if len(q.TransportParameters) > 0 {
					w.arr("transport_parameters")
					for i, p := range q.TransportParameters {
						w.item(i)
						w.uint("id", p.ID)
						w.hex("value", p.Value)
						w.endItem()
					}
					w.endArr()
				}
				w.close()
			}
		}
	case observe.KindMDNS:
		if o.DNS != nil {
			var txt []string
			for _, sec := range [2][]observe.DNSRecord{o.DNS.Answers, o.DNS.Extra} {
				for _, r := range sec {
					txt = append(txt, r.TXT...)
				}
			}
			if len(txt) > 0 {
				w.open("mdns")
				w.strs("txt", txt)
				w.close()
			}
		}
	case observe.KindTCP:
		if t := o.TCP; t != nil {
			w.open("tcp")
			w.str("fingerprint", t.Fingerprint)
			w.str("ja4t", t.JA4T)
			w.strs("quirks", t.Quirks)
			w.uint("ttl", uint64(t.TTL))
			w.uint("initial_ttl", uint64(t.InitialTTL))
			w.uint("window", uint64(t.Window))
			w.uint("mss", uint64(t.MSS))
			w.int("window_scale", int64(t.WindowScale))
			w.str("options", t.Options)
			w.close()
		}
	case observe.KindDHCP:
		if d := o.DHCP; d != nil {
			w.open("dhcp")
			w.str("message_type", d.MessageType)
			w.bool("v6", d.V6)
			w.mac("client_mac", d.ClientMAC)
			w.str("hostname", d.Hostname)
			w.str("vendor_class", d.VendorClass)
			if len(d.ParamList) > 0 {
				w.uints("param_list", widen8(d.ParamList))
			} else if len(d.ParamList16) > 0 {
				w.uints("param_list", widen16(d.ParamList16))
			}
			w.uints("option_order", widen16(d.OptionOrder))
			w.hex("client_id", d.ClientID)
			w.addr("requested_ip", d.RequestedIP)
			w.addr("assigned_ip", d.AssignedIP)
			w.addr("server_id", d.ServerID)
			w.uintNZ("lease_time", uint64(d.LeaseTime))
			w.strs("oddities", d.Oddities)
			w.close()
		}
	case observe.KindARP:
		if a := o.ARP; a != nil {
			w.open("arp")
			w.str("protocol", a.Protocol)
			w.str("op", a.Op)
			w.addr("ip", a.IP)
			w.mac("mac", a.MAC)
			w.close()
		}
	case observe.KindFlow:
		if f := o.Flow; f != nil {
			w.open("flow")
			w.str("reason", f.Reason)
			w.bool("syn_seen", f.SYNSeen)
			w.bool("established", f.Established)
			w.str("prologue", f.Prologue)
			w.strs("plaintext", f.Plaintext)
			if f.Gaps != 0 {
				w.int("gaps", int64(f.Gaps))
			}
			w.close()
		}
	}
	w.close()
	return append(w.end(), '\n')
}

func endpoints(w *obj, o *observe.Observation) {
	var pktsOut, bytesOut, pktsIn, bytesIn uint64
	flow := o.Kind == observe.KindFlow && o.Flow != nil
	if flow {
		pktsOut, bytesOut, pktsIn, bytesIn = o.Flow.PacketsOut, o.Flow.BytesOut, o.Flow.PacketsIn, o.Flow.BytesIn
	}
	endpoint(w, "source", o, o.Src, o.SrcPort, o.SrcMAC, flow, pktsOut, bytesOut)
	endpoint(w, "destination", o, o.Dst, o.DstPort, o.DstMAC, flow, pktsIn, bytesIn)
}

// endpoint writes source.* or destination.*; flows add the packets and
// bytes that endpoint sent.
func endpoint(w *obj, name string, o *observe.Observation, ip netip.Addr, port uint16, mac observe.MAC, flow bool, pkts, bytes uint64) {
	if !ip.IsValid() && mac.IsZero() {
		return
	}
	w.open(name)
	w.addr("ip", ip)
	if ip.IsValid() && o.Transport != observe.TransportNone {
		w.uint("port", uint64(port))
	}
	w.mac("mac", mac)
	if flow {
		w.uint("packets", pkts)
		w.uint("bytes", bytes)
	}
	w.close()
}

func protocol(o *observe.Observation) string {
	switch o.Kind {
	case observe.KindTLS:
		if o.TLS != nil && o.TLS.QUIC != nil {
			return "quic"
		}
		return "tls"
	case observe.KindDNS:
		return "dns"
	case observe.KindMDNS:
		return "mdns"
	case observe.KindDHCP:
		if o.DHCP != nil && o.DHCP.V6 {
			return "dhcpv6"
		}
		return "dhcp"
	case observe.KindHTTP:
		return "http"
	case observe.KindARP:
		if o.ARP != nil {
			return o.ARP.Protocol
		}
	}
	return ""
}

func dns(w *obj, m *observe.DNSMessage, mdns bool) {
	w.open("dns")
	if m.Response {
		w.str("type", "answer")
	} else {
		w.str("type", "query")
	}
	w.uint("id", uint64(m.ID))
	if m.Response {
		w.str("response_code", rcode(m.Rcode))
	}
	if len(m.Questions) > 0 {
		w.open("question")
		w.str("name", m.Questions[0].Name)
		w.str("type", m.Questions[0].Type)
		w.close()
	}
	n := 0
	var resolved []string
	secs := [2][]observe.DNSRecord{m.Answers, nil}
	if mdns {
		secs[1] = m.Extra // announcements carry their records here too
	}
	for _, sec := range secs {
		for _, r := range sec {
			if n == 0 {
				w.arr("answers")
			}
			w.item(n)
			w.str("name", r.Name)
			w.str("type", r.Type)
			w.str("data", r.Data)
			w.uint("ttl", uint64(r.TTL))
			w.endItem()
			n++
			if r.Addr.IsValid() {
				resolved = append(resolved, r.Addr.String())
			}
		}
	}
	if n > 0 {
		w.endArr()
	}
	w.strs("resolved_ip", resolved)
	w.close()
}

var rcodes = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}

func rcode(c int) string {
	if c >= 0 && c < len(rcodes) {
		return rcodes[c]
	}
	return "RCODE" + strconv.Itoa(c)
}

func widen8(v []uint8) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}

func widen16(v []uint16) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}

func host(w *obj, d *correlate.Device) {
	w.open("host")
	w.str("id", d.Key)
	w.mac("mac", d.MAC)
	if len(d.IPs) > 0 {
		w.arr("ip")
		for i, ip := range d.IPs {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendString(w.b, ip.String())
		}
		w.endArr()
	}
	w.str("hostname", d.Hostname)
	w.close()
}

func verdictObj(w *obj, v *verdict.Result) {
	w.open("verdict")
	w.bool("apple", v.Apple)
	w.float("confidence", round(v.Confidence))
	w.str("os", v.OS)
	w.str("model", v.Model)
	w.close()
}

func round(f float64) float64 {
	// Four decimals: enough to read, stable in golden files.
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 4, 64), 64)
	return v
}

func evidence(w *obj, items []verdict.Item) {
	if len(items) == 0 {
		return
	}
	w.arr("evidence")
	for i := range items {
		e := &items[i]
		w.item(i)
		w.time("time", e.Time)
		w.str("kind", e.Kind)
		w.str("detail", e.Detail)
		w.str("signature_id", e.SignatureID)
		w.str("platform", e.Platform)
		w.float("weight", e.Weight)
		if e.Count > 1 {
			w.uint("count", uint64(e.Count))
			w.time("last", e.Last)
		}
		w.str("file", e.Source)
		w.uintNZ("packet", e.Packet)
		w.close()
	}
	w.endArr()
}

func mailObj(w *obj, a *mail.Access) {
	w.open("mail")
	w.str("server", a.Server)
	w.str("preset", a.Preset)
	w.addr("address", a.Address)
	w.str("protocol", a.Protocol)
	w.strs("protocols", a.Protocols)
	w.uint("port", uint64(a.Port))
	w.str("method", a.Method)
	w.str("name", a.Name)
	w.time("first_seen", a.FirstSeen)
	w.time("last_seen", a.LastSeen)
	w.uint("flows", a.Flows)
	w.uint("packets", a.Packets)
	w.uint("bytes", a.Bytes)
	w.bool("starttls", a.StartTLS)
	w.strs("details", a.Details)
	w.close()
}

// AppendHost appends one `event.kind: state` line for a host (--hosts); at
// is the line's @timestamp (the end of the input).
func AppendHost(dst []byte, at time.Time, sensor string, h *agent.HostState) []byte {
	w := begin(dst)
	w.time("@timestamp", at)
	w.open("event")
	w.str("kind", "state")
	w.str("dataset", "orchard.host")
	w.time("start", h.FirstSeen)
	w.time("end", h.LastSeen)
	w.close()
	if sensor != "" {
		w.open("observer")
		w.str("name", sensor)
		w.close()
	}
	host(&w, &h.Device)
	w.open("orchard")
	verdictObj(&w, &h.Verdict)
	evidence(&w, h.Verdict.Evidence)
	w.strs("signatures", h.Signatures)
	if h.VendorClass != "" {
		w.open("dhcp")
		w.str("vendor_class", h.VendorClass)
		w.close()
	}
	if len(h.Mail) > 0 {
		w.arr("mail")
		for i := range h.Mail {
			w.item(i)
			mailMembers(&w, &h.Mail[i])
			w.endItem()
		}
		w.endArr()
	}
	privateMAC(&w, &h.Device)
	w.close()
	return append(w.end(), '\n')
}

func mailMembers(w *obj, a *mail.Access) {
	w.str("server", a.Server)
	w.addr("address", a.Address)
	w.str("protocol", a.Protocol)
	w.uint("port", uint64(a.Port))
	w.time("first_seen", a.FirstSeen)
	w.time("last_seen", a.LastSeen)
	w.uint("flows", a.Flows)
	w.uint("bytes", a.Bytes)
}

func privateMAC(w *obj, d *correlate.Device) {
	if !d.Private && len(d.MACs) <= 1 {
		return
	}
	w.open("host")
	w.bool("private_mac", d.Private)
	if len(d.MACs) > 1 {
		s := make([]string, 0, len(d.MACs)-1)
		for _, m := range d.MACs[1:] {
			s = append(s, m.String())
		}
		w.strs("linked_macs", s)
	}
	w.close()
}

// AppendMail appends one `orchard.mail` event: a host's new work-mail flow.
func AppendMail(dst []byte, e *agent.MailEvent) []byte {
	w := begin(dst)
	w.time("@timestamp", e.Time)
	w.open("event")
	w.str("kind", "event")
	w.str("dataset", "orchard.mail")
	w.close()
	if e.Sensor != "" {
		w.open("observer")
		w.str("name", e.Sensor)
		w.close()
	}
	host(&w, &e.Device)
	w.open("network")
	w.str("community_id", e.CommunityID)
	w.close()
	w.open("orchard")
	w.str("file", e.Source)
	w.uintNZ("packet", e.Packet)
	mailObj(&w, &e.Access)
	w.close()
	return append(w.end(), '\n')
}

// AppendAlert appends one `event.kind: alert` line for a finding.
func AppendAlert(dst []byte, f *correlate.Finding) []byte {
	w := begin(dst)
	w.time("@timestamp", f.Time)
	w.open("event")
	w.str("kind", "alert")
	w.str("dataset", "orchard.alert")
	w.uint("severity", correlate.Severity)
	w.str("reason", f.Reason)
	w.close()
	w.open("rule")
	w.str("id", correlate.RuleID)
	w.str("name", correlate.RuleName)
	w.close()
	if f.Sensor != "" {
		w.open("observer")
		w.str("name", f.Sensor)
		w.close()
	}
	host(&w, &f.Device)
	w.open("network")
	w.str("community_id", f.Mail.CommunityID)
	w.close()
	w.open("orchard")
	w.str("file", f.Source)
	w.uintNZ("packet", f.Packet)
	w.uint("raise", uint64(f.Raise))
	verdictObj(&w, &f.Verdict)
	evidence(&w, f.Verdict.Evidence)
	w.strs("signatures", f.Verdict.Signatures)
	mailObj(&w, &f.Mail)
	privateMAC(&w, &f.Device)
	w.close()
	return append(w.end(), '\n')
}
