package config

import (
	"errors"
	"os"
	"testing"
)

func seeds(f interface{ Add(...any) }) {
	for _, name := range []string{"orchard.example.yaml", "default.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [1, 2]\nb: *x\n"))
	f.Add([]byte("mail:\n  servers:\n    - &s {name: a, names: [a.example], protocols: [imaps]}\n    - *s\n"))
	f.Add([]byte("allow: [{mac: 'aa:bb:cc:dd:ee:ff', reason: r, expires: 2027-01-01}]"))
}

// FuzzParse: any input gives a config or an error, never a panic, and an
// accepted config validates again.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c, err)
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
	})
}

// Every prefix of the example config parses or fails cleanly.
func TestPrefixes(t *testing.T) {
	b, err := os.ReadFile("orchard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		c, err := Parse("p.yaml", b[:i])
		if (c == nil) == (err == nil) {
			t.Fatalf("prefix %d: config %v error %v", i, c, err)
		}
	}
}
