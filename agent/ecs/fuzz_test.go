package ecs

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/orchard-nsm/orchard/capture/observe"
)

// FuzzEvent: names and strings from the wire are attacker-controlled; every
// line must still be one valid JSON object and round-trip valid UTF-8.
func FuzzEvent(f *testing.F) {
	f.Add("gateway.icloud.com", "Mozilla/5.0", []byte("model=iPhone14,2"))
	f.Add("a\"b\\c\x00\xff", "\u2028<script>", []byte{0xc3, 0x28})
	f.Fuzz(func(t *testing.T, name, ua string, txt []byte) {
		o := observations()
		o[0].TLS.ServerName = name
		o[8].HTTP.UserAgent = ua
		o[4].DNS.Answers[0].TXT = []string{string(txt)}
		o[4].DNS.Answers[0].Name = name
		var buf []byte
		for _, x := range o {
			start := len(buf)
			buf = AppendEvent(buf, x)
			var m map[string]any
			if err := json.Unmarshal(buf[start:], &m); err != nil {
				t.Fatalf("%s: %v\n%s", x.Kind, err, buf[start:])
			}
			if x.Kind == observe.KindTLS && x.TLS.QUIC == nil && utf8.ValidString(name) {
				got, _ := field(m, "tls.client.server_name")
				if name != "" && got != name {
					t.Fatalf("server_name %q round-tripped as %q", name, got)
				}
			}
		}
	})
}
