package signatures

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes as a data file: the loader must return a
// set or an error wrapping ErrInvalid, never panic.
func FuzzLoad(f *testing.F) {
	des, _ := fs.ReadDir(embeddedData(), ".")
	for _, de := range des {
		if b, err := fs.ReadFile(embeddedData(), de.Name()); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(goodHead + entry("a.b")))
	f.Add([]byte("version: \"1\"\nentries: [{id: a.b, kind: tcp-syn, pattern: {olayout: mss, quirks: [ecn]}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(fstest.MapFS{"f.yaml": {Data: data}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) || s != nil {
				t.Fatalf("bad error contract: %v (set %v)", err, s != nil)
			}
			return
		}
		_ = s.Entries()
	})
}

// TestLoadTruncatedPrefixes loads every prefix of a real data file: each
// loads or fails cleanly.
func TestLoadTruncatedPrefixes(t *testing.T) {
	b, err := fs.ReadFile(embeddedData(), "apple-tcp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i++ {
		s, err := Load(fstest.MapFS{"f.yaml": {Data: b[:i]}})
		if (err == nil) == (s == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Fatalf("prefix %d: set %v err %v", i, s != nil, err)
		}
	}
}
