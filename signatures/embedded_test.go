package signatures

import "testing"

func TestEmbeddedLoads(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatalf("embedded signatures do not load:\n%v", err)
	}
	if len(s.Entries()) < 100 {
		t.Fatalf("only %d entries", len(s.Entries()))
	}
}
