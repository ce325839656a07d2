package capture

import (
	"errors"
	"time"
)

var errUnknownLink = errors.New("unsupported link type")

// Reason says why a packet, or a message inside it, was skipped or counted
// as an anomaly. Every skip is counted; none is silent.
type Reason uint8

// Skip and anomaly reasons.
const (
	ReasonSnapLen        Reason = iota // packet cut by the snap length (still inspected as far as it goes)
	ReasonDecode                       // link/network/transport header malformed
	ReasonUnknownLink                  // link type not supported
	ReasonNonIP                        // neither IP nor ARP
	ReasonFragment                     // IP fragment (not reassembled)
	ReasonMalformedTLS                 // TLS record or ClientHello malformed
	ReasonMalformedDNS                 // DNS message malformed
	ReasonMalformedDHCP                // DHCP message malformed
	ReasonMalformedHTTP                // HTTP request head malformed
	ReasonMalformedSYN                 // TCP SYN options malformed
	ReasonQUIC                         // QUIC Initial not decodable (see QUIC stats for the detail)
	ReasonFlowEvicted                  // flow evicted from a full flow table before it ended
	ReasonStreamOverflow               // first flight larger than the reassembly limit
	ReasonStreamGap                    // first flight with a hole never filled
	ReasonStreamCapacity               // too many flows reassembling at once
	numReasons
)

var reasonNames = [numReasons]string{
	"snaplen", "decode-error", "unknown-link-type", "non-ip", "ip-fragment",
	"malformed-tls", "malformed-dns", "malformed-dhcp", "malformed-http", "malformed-syn",
	"quic-undecodable", "flow-evicted", "stream-overflow", "stream-gap", "stream-capacity",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every reason, in order, for metrics and summaries.
func Reasons() []Reason {
	r := make([]Reason, numReasons)
	for i := range r {
		r[i] = Reason(i)
	}
	return r
}

// Stats are an engine's counters. They are plain values: copy them out with
// Engine.Stats.
type Stats struct {
	Packets      uint64
	Bytes        uint64     // bytes on the wire (original length)
	Observations [16]uint64 // by observe.Kind
	Skipped      [numReasons]uint64
	Flows        uint64 // flows created
	ActiveFlows  int
	Reassembling int
	Elapsed      time.Duration
}

// Skips returns the total of all skip counters.
func (s *Stats) Skips() uint64 {
	var n uint64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Add adds o's counters to s (for several workers or files).
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	for i := range s.Observations {
		s.Observations[i] += o.Observations[i]
	}
	for i := range s.Skipped {
		s.Skipped[i] += o.Skipped[i]
	}
	s.Flows += o.Flows
	s.ActiveFlows += o.ActiveFlows
	s.Reassembling += o.Reassembling
	s.Elapsed += o.Elapsed
}
