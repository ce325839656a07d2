package signatures

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const goodHead = "version: \"1\"\nentries:\n"

// entry renders one well-formed dns-name entry with the given id, for
// building broken files around it.
func entry(id string) string {
	return "  - id: " + id + "\n    kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: 1\n    source: test\n"
}

func loadOne(name, body string) (*Set, error) {
	return Load(fstest.MapFS{name: &fstest.MapFile{Data: []byte(body)}})
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		file string
		body string
		want string // expected prefix-free substring of the error, with file:line
	}{
		{"not yaml", "a.yaml", "version: \"1\"\nentries: [\n  - id: x\n", `a.yaml:2: not valid YAML`},
		{"missing version", "a.yaml", "entries:\n" + entry("a.x"), `a.yaml:1:1: version: missing`},
		{"empty version", "a.yaml", "version: \"\"\nentries: []\n", `a.yaml:1:10: version: must be a non-empty string`},
		{"numeric version", "a.yaml", "version: 3\nentries: []\n", `a.yaml:1:10: version: must be a non-empty string`},
		{"empty file", "a.yaml", "", `a.yaml:1: version: missing`},
		{"top-level list", "a.yaml", "- a\n- b\n", `a.yaml:1:1: top level must be a mapping`},
		{"unknown top field", "a.yaml", goodHead + entry("a.x") + "extra: 1\n", `a.yaml:9:1: extra: unknown field`},
		{"unknown entry field", "a.yaml", goodHead + entry("a.x") + "    colour: red\n", `a.yaml:9:5: entry "a.x": colour: unknown field`},
		{"unknown kind", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-nam\n    pattern: a.example.com\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:4:11: entry "a.x": kind: unknown kind "dns-nam"`},
		{"unknown platform", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-name\n    pattern: a.example.com\n    platform: iphone\n    weight: 1\n    source: t\n",
			`a.yaml:6:15: entry "a.x": platform: unknown platform "iphone"`},
		{"weight out of range", "apple-dns.yaml", goodHead + "  - id: apple.dns.x\n    kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: 42\n    source: t\n",
			`apple-dns.yaml:7:13: entry "apple.dns.x": weight: must be a number between -10 and 10`},
		{"weight not a number", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: heavy\n    source: t\n",
			`a.yaml:7:13: entry "a.x": weight: must be a number between -10 and 10`},
		{"duplicate id", "a.yaml", goodHead + entry("a.x") + "  - id: a.x\n    kind: dns-name\n    pattern: b.example.com\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:9:9: entry "a.x": id: duplicate id, first defined at a.yaml:3:9`},
		{"bad id", "a.yaml", goodHead + "  - id: Bad Id\n    kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:3:9: entry "Bad Id": id: must be dotted lower-case words`},
		{"missing id", "a.yaml", goodHead + "  - kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:3:5: id: missing`},
		{"missing source", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-name\n    pattern: a.example.com\n    platform: apple\n    weight: 1\n",
			`a.yaml:3:5: entry "a.x": source: missing`},
		{"empty pattern", "a.yaml", goodHead + "  - id: a.x\n    kind: http-ua\n    pattern: \"\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: must not be empty`},
		{"missing pattern", "a.yaml", goodHead + "  - id: a.x\n    kind: http-ua\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:3:5: entry "a.x": pattern: missing`},
		{"bad regex", "a.yaml", goodHead + "  - id: a.x\n    kind: http-ua\n    pattern: \"CFNetwork/(\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: bad regular expression`},
		{"bad cidr", "a.yaml", goodHead + "  - id: a.x\n    kind: address-port\n    pattern: \"17.0.0.0/33:5223\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: bad CIDR "17.0.0.0/33"`},
		{"bad port", "a.yaml", goodHead + "  - id: a.x\n    kind: address-port\n    pattern: \"17.0.0.0/8:70000\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: bad port "70000"`},
		{"no port", "a.yaml", goodHead + "  - id: a.x\n    kind: address-port\n    pattern: \"17.0.0.0/8\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: want CIDR:port`},
		{"bad ja4", "a.yaml", goodHead + "  - id: a.x\n    kind: tls-ja4\n    pattern: t13d2014h2_a09f3c656075\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: not a JA4`},
		{"bad ja3", "a.yaml", goodHead + "  - id: a.x\n    kind: tls-ja3\n    pattern: 773906b0efdefa24a7f2b8eb6985bf3\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: not a JA3 hash`},
		{"too broad name", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-name\n    pattern: \"*.com\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: too broad`},
		{"wildcard misuse", "a.yaml", goodHead + "  - id: a.x\n    kind: dns-name\n    pattern: \"a**b.example.com\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: "**" is allowed only`},
		{"tcp bad wscale", "a.yaml", goodHead + "  - id: a.x\n    kind: tcp-syn\n    pattern: {ittl: 64, wscale: 20, olayout: \"mss\"}\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:33: entry "a.x": pattern.wscale: must be an integer 0-14`},
		{"tcp unknown option", "a.yaml", goodHead + "  - id: a.x\n    kind: tcp-syn\n    pattern: {ittl: 64, olayout: \"mss,foo\"}\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:34: entry "a.x": pattern.olayout: unknown option "foo"`},
		{"tcp pattern as string", "a.yaml", goodHead + "  - id: a.x\n    kind: tcp-syn\n    pattern: \"65535:64\"\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: tcp-syn pattern must be a mapping`},
		{"dhcp bad code", "a.yaml", goodHead + "  - id: a.x\n    kind: dhcp\n    pattern: {params: [1, 300]}\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:27: entry "a.x": pattern.params: option code must be an integer 0-255`},
		{"dhcp empty", "a.yaml", goodHead + "  - id: a.x\n    kind: dhcp\n    pattern: {no-vendor-class: true}\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: a dhcp pattern needs params or order`},
		{"model without product", "a.yaml", goodHead + "  - id: a.x\n    kind: mdns-model\n    pattern: \"iPhone14,2\"\n    platform: apple-ios\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": product: missing`},
		{"bad service", "a.yaml", goodHead + "  - id: a.x\n    kind: mdns-service\n    pattern: companion-link\n    platform: apple\n    weight: 1\n    source: t\n",
			`a.yaml:5:14: entry "a.x": pattern: not a DNS-SD service type`},
		{"same pattern twice", "a.yaml", goodHead + entry("a.x") + entry("a.y"),
			`a.yaml:11:14: entry "a.y": pattern: same dns-name pattern as entry "a.x" at a.yaml:5:14`},
		{"entry not a mapping", "a.yaml", goodHead + "  - just a string\n", `a.yaml:3:5: entries: each entry must be a mapping`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadOne(tc.file, tc.body)
			if err == nil {
				t.Fatalf("loaded a broken file (%d entries)", len(s.Entries()))
			}
			if s != nil {
				t.Errorf("returned a set together with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != tc.file || le.Line == 0 {
				t.Errorf("no *LoadError with file and line: %#v", le)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	body := goodHead +
		"  - id: a.x\n    kind: nope\n    pattern: p\n    platform: apple\n    weight: 1\n    source: t\n" +
		"  - id: a.y\n    kind: dns-name\n    pattern: b.example.com\n    platform: apple\n    weight: 11\n    source: t\n"
	_, err := loadOne("a.yaml", body)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`a.yaml:4:11: entry "a.x": kind`, `a.yaml:13:13: entry "a.y": weight`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

func TestLoadDuplicateAcrossFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte(goodHead + entry("x.y"))},
		"b.yaml": {Data: []byte(goodHead + "  - id: x.y\n    kind: http-ua\n    pattern: foo\n    platform: apple\n    weight: 1\n    source: t\n")},
	}
	_, err := Load(fsys)
	if err == nil || !strings.Contains(err.Error(), `b.yaml:3:9: entry "x.y": id: duplicate id, first defined at a.yaml:3:9`) {
		t.Fatalf("got %v", err)
	}
}

func TestLoadGood(t *testing.T) {
	body := goodHead + entry("a.x") +
		"  - id: a.tcp\n    kind: tcp-syn\n    pattern: {ittl: 64, window: 65535, wscale: \"*\", olayout: \"mss,nop,ws,nop,nop,ts,sok,eol\", quirks: [ecn]}\n    platform: apple\n    weight: -1.5\n    source: t\n    note: n\n"
	s, err := loadOne("x.yaml", body)
	if err != nil {
		t.Fatal(err)
	}
	es := s.Entries()
	if len(es) != 2 {
		t.Fatalf("%d entries", len(es))
	}
	tcp := es[1]
	if tcp.Pattern != "ittl=64 window=65535 olayout=mss,nop,ws,nop,nop,ts,sok,eol quirks=ecn" || tcp.Weight != -1.5 ||
		tcp.Set != "x.yaml@1" || tcp.File != "x.yaml" || tcp.Line != 9 || tcp.Note != "n" {
		t.Errorf("entry %+v", tcp)
	}
	if v := s.Versions(); len(v) != 1 || v["x.yaml"] != "1" {
		t.Errorf("versions %v", v)
	}
}

func TestLoadWithOverrides(t *testing.T) {
	base, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Replace counter.yaml entirely; add a new file.
	if err := os.WriteFile(filepath.Join(dir, "counter.yaml"), []byte("version: \"local-1\"\nentries:\n"+
		"  - id: local.windows.ncsi\n    kind: dns-name\n    pattern: www.msftconnecttest.com\n    platform: windows\n    weight: 2\n    source: local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte("version: \"s1\"\nentries:\n"+
		"  - id: site.dns.mdm\n    kind: dns-name\n    pattern: mdm.example.org\n    platform: apple\n    weight: 1\n    source: our MDM\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not data"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadWithOverrides(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Versions()
	if v["counter.yaml"] != "local-1" || v["site.yaml"] != "s1" || v["apple-dns.yaml"] != base.Versions()["apple-dns.yaml"] {
		t.Errorf("versions %v", v)
	}
	ids := map[string]bool{}
	for _, e := range s.Entries() {
		ids[e.ID] = true
	}
	if ids["windows.dns.ncsi"] || !ids["local.windows.ncsi"] || !ids["site.dns.mdm"] || !ids["apple.dns.captive"] {
		t.Errorf("override not applied file-wise: %v", len(ids))
	}

	// A broken override names the override file and line.
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte("version: \"s1\"\nentries:\n  - id: site.x\n    kind: dns-name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWithOverrides(dir); err == nil || !strings.Contains(err.Error(), `site.yaml:3:5: entry "site.x": platform: missing`) {
		t.Errorf("got %v", err)
	}
	if _, err := LoadWithOverrides(filepath.Join(dir, "absent")); err == nil {
		t.Error("missing directory accepted")
	}
}

func TestLoadEmptyFS(t *testing.T) {
	if _, err := Load(fstest.MapFS{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}
