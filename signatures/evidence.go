package signatures

import "time"

// Evidence is what one observation says about a host's platform: a signature
// matched, with its weight (a log-likelihood ratio, natural log; positive
// favours Platform).
type Evidence struct {
	Time        time.Time `json:"time"`
	Kind        string    `json:"kind"`         // signature kind: "dns-name", "tls-ja4", "tcp-syn", ...
	Detail      string    `json:"detail"`       // what was seen: the name, the JA4, the fingerprint
	SignatureID string    `json:"signature_id"` // e.g. "apple.dns.push-courier"
	Platform    string    `json:"platform"`     // "apple-ios", "apple-macos", "apple", "windows", ...
	Weight      float64   `json:"weight"`
	Source      string    `json:"source,omitempty"` // capture file or interface
	Packet      uint64    `json:"packet,omitempty"`
	// Set is "file@version" of the signature file the entry came from; it
	// appears in every verdict so a verdict names the data it was made with.
	Set string `json:"set"`
	// Model is a product name when the signature names one (mDNS model=).
	Model string `json:"model,omitempty"`
}
