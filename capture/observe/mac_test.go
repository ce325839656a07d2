package observe

import "testing"

func TestMACText(t *testing.T) {
	m := MAC{0x8c, 0x85, 0x90, 0x0a, 0xbb, 0xf1}
	if got := m.String(); got != "8c:85:90:0a:bb:f1" {
		t.Errorf("String() = %q", got)
	}
	if got := string(m.AppendText([]byte("mac="))); got != "mac=8c:85:90:0a:bb:f1" {
		t.Errorf("AppendText = %q", got)
	}
	// The zero MAC is "" as a string (absent), but has a text form.
	if z := (MAC{}); z.String() != "" || string(z.AppendText(nil)) != "00:00:00:00:00:00" {
		t.Errorf("zero MAC: %q, %q", z.String(), z.AppendText(nil))
	}
	buf := make([]byte, 0, 32)
	if n := testing.AllocsPerRun(100, func() { buf = m.AppendText(buf[:0]) }); n != 0 {
		t.Errorf("AppendText: %v allocations", n)
	}
}
