package tcpfp

import (
	"errors"
	"slices"
	"testing"
)

// macSYN is an IPv4 SYN shaped like current macOS: DF, non-zero ID, TTL
// 64, ECE+CWR (ECN setup), options mss,nop,ws,nop,nop,ts,sok,eol + 1 pad.
func macSYN() (ip, tcp []byte) {
	ip = []byte{
		0x45, 0x00, 0x00, 0x40, // ver/ihl, tos, total length 64
		0x12, 0x34, 0x40, 0x00, // id, DF
		0x40, 0x06, 0x00, 0x00, // ttl 64, tcp, checksum
		172, 16, 5, 16,
		172, 67, 24, 71,
	}
	tcp = []byte{
		0xef, 0x7f, 0x01, 0xbb, // ports
		0x11, 0x22, 0x33, 0x44, // seq
		0, 0, 0, 0, // ack
		0xb0, 0xc2, 0xff, 0xff, // doff 11 (44 bytes), CWR|ECE|SYN, window 65535
		0, 0, 0, 0, // checksum, urgent
		2, 4, 0x05, 0xb4, // mss 1460
		1,       // nop
		3, 3, 6, // ws 6
		1, 1, // nop nop
		8, 10, 0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0, // ts
		4, 2, // sok
		0, 0, // eol + 1
	}
	return ip, tcp
}

func TestMacSYN(t *testing.T) {
	ip, tcp := macSYN()
	s, err := Fingerprint(ip, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if want := "4:64:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+,ecn:0"; s.Fingerprint != want {
		t.Errorf("fingerprint\n got %s\nwant %s", s.Fingerprint, want)
	}
	if want := "65535_2-1-3-1-1-8-4-0-0_1460_6"; s.JA4T != want {
		t.Errorf("ja4t %s, want %s", s.JA4T, want)
	}
	if want := "mss,nop,ws,nop,nop,ts,sok,eol+1"; s.Options != want {
		t.Errorf("options %s", s.Options)
	}
	if want := []string{"df", "id+", "ecn", "ece-cwr"}; !slices.Equal(s.Quirks, want) {
		t.Errorf("quirks %q, want %q", s.Quirks, want)
	}
	if s.IPVersion != 4 || s.TTL != 64 || s.InitialTTL != 64 || s.MSS != 1460 || s.Window != 65535 || s.WindowScale != 6 || s.IPOptionLen != 0 {
		t.Errorf("fields %+v", s)
	}
}

func TestQuirksAndLayout(t *testing.T) {
	ip6 := make([]byte, 40)
	ip6[0], ip6[1], ip6[3] = 0x60, 0x01, 0x23      // flow label non-zero
	ip6[4], ip6[5], ip6[6], ip6[7] = 0, 40, 6, 120 // 8 payload bytes
	tcp := []byte{
		0, 1, 0, 2,
		0, 0, 0, 0, // seq 0
		0, 0, 0, 9, // ack 9 without ACK
		0x80, 0x2a, 0x20, 0x00, // doff 8, URG|PSH|SYN, window 8192
		0, 0, 0, 7, // urgent pointer
	}
	tcp = append(tcp, 3, 3, 15, 1, 0, 0, 7, 0, 0, 0, 0, 0) // ws 15, nop, eol, junk after eol
	s, err := Fingerprint(ip6, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if want := "6:128:0:*:8192,15:ws,nop,eol+7:flow,seq-,ack+,urgf+,pushf+,opt+,exws:+"; s.Fingerprint != want {
		t.Errorf("fingerprint\n got %s\nwant %s", s.Fingerprint, want)
	}
	if s.MSS != 0 || s.WindowScale != 15 {
		t.Errorf("mss %d ws %d", s.MSS, s.WindowScale)
	}
	if want := "8192_3-1-0-0-7_0_15"; s.JA4T != want {
		t.Errorf("ja4t %s want %s", s.JA4T, want)
	}

	// Timestamps with ts1 zero and ts2 set, a bad MSS length, an unknown kind.
	ip4 := []byte{0x45, 0x02, 0, 52, 0, 0, 0x80, 0, 30, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	tcp = []byte{0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0x10, 0x00, 0, 0, 0, 0,
		8, 10, 0, 0, 0, 0, 0, 0, 0, 1, 30, 2}
	s, err = Fingerprint(ip4, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if want := "4:32:0:*:4096,*:ts,?30:id-,ecn,0+,ts1-,ts2+:0"; s.Fingerprint != want {
		t.Errorf("fingerprint\n got %s\nwant %s", s.Fingerprint, want)
	}
	tcp[20+10+1] = 9 // unknown option claiming more bytes than exist
	s, _ = Fingerprint(ip4, tcp)
	if !slices.Contains(s.Quirks, QuirkBad) {
		t.Errorf("overlong option: quirks %q", s.Quirks)
	}
}

func TestWindowMultiple(t *testing.T) {
	ip, tcp := macSYN()
	tcp[14], tcp[15] = 0xfa, 0xf0 // 64240 = 44 * 1460
	s, err := Fingerprint(ip, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if want := "4:64:0:1460:mss*44,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+,ecn:0"; s.Fingerprint != want {
		t.Errorf("got %s", s.Fingerprint)
	}
	if s.JA4T != "64240_2-1-3-1-1-8-4-0-0_1460_6" {
		t.Errorf("ja4t %s", s.JA4T)
	}
}

func TestErrors(t *testing.T) {
	ip, tcp := macSYN()
	synack := append([]byte{}, tcp...)
	synack[13] |= flagACK
	if _, err := Fingerprint(ip, synack); !errors.Is(err, ErrNotSYN) {
		t.Errorf("SYN-ACK: %v", err)
	}
	bad := append([]byte{}, ip...)
	bad[0] = 0x55
	if _, err := Fingerprint(bad, tcp); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 5: %v", err)
	}
	bad[0] = 0x44
	if _, err := Fingerprint(bad, tcp); !errors.Is(err, ErrMalformed) {
		t.Errorf("ihl 4: %v", err)
	}
	short := append([]byte{}, tcp...)
	short[12] = 0x40
	if _, err := Fingerprint(ip, short); !errors.Is(err, ErrMalformed) {
		t.Errorf("doff 16: %v", err)
	}
}

// TestPrefixes: every truncated prefix of the IP header or of the TCP
// header fails with a named error, never a panic.
func TestPrefixes(t *testing.T) {
	ip, tcp := macSYN()
	for n := range len(ip) {
		if _, err := Fingerprint(ip[:n], tcp); !errors.Is(err, ErrTruncated) {
			t.Errorf("ip prefix %d: %v", n, err)
		}
	}
	for n := range len(tcp) {
		if _, err := Fingerprint(ip, tcp[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("tcp prefix %d: %v", n, err)
		}
	}
	ip6 := make([]byte, 40)
	ip6[0] = 0x60
	for n := 1; n < 40; n++ {
		if _, err := Fingerprint(ip6[:n], tcp); !errors.Is(err, ErrTruncated) {
			t.Errorf("ipv6 prefix %d: %v", n, err)
		}
	}
}

func TestAllocs(t *testing.T) {
	ip, tcp := macSYN()
	// One string for signature+JA4T, one slice of quirk names.
	if n := testing.AllocsPerRun(200, func() { _, _ = Fingerprint(ip, tcp) }); n > 2 {
		t.Errorf("%v allocations per SYN, want at most 2", n)
	}
	tcp[13] = flagSYN
	ip[6] = 0 // no DF
	ip[4], ip[5] = 1, 1
	if n := testing.AllocsPerRun(200, func() { _, _ = Fingerprint(ip, tcp) }); n > 1 {
		t.Errorf("%v allocations for a quirk-free SYN, want 1", n)
	}
}

func FuzzFingerprint(f *testing.F) {
	ip, tcp := macSYN()
	f.Add(ip, tcp)
	ip6 := make([]byte, 40)
	ip6[0] = 0x60
	f.Add(ip6, tcp)
	f.Fuzz(func(t *testing.T, ip, tcp []byte) {
		s, err := Fingerprint(ip, tcp)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotSYN) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if s.Fingerprint == "" || s.JA4T == "" {
			t.Fatal("empty fingerprint without error")
		}
		if s.InitialTTL < s.TTL {
			t.Fatalf("initial TTL %d below observed %d", s.InitialTTL, s.TTL)
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	ip, tcp := macSYN()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fingerprint(ip, tcp); err != nil {
			b.Fatal(err)
		}
	}
}
