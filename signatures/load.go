package signatures

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed data/*.yaml
var embedded embed.FS

// ErrInvalid is wrapped by every *LoadError: the signature data is not
// acceptable. Callers test with errors.Is(err, ErrInvalid) and print err,
// which lists every problem found, one per line.
var ErrInvalid = errors.New("invalid signature data")

// LoadError is one problem in one data file, located by line and column
// (1-based; 0 when unknown) and, where it applies, the entry id and field.
type LoadError struct {
	File   string
	Line   int
	Column int
	Entry  string // entry id, "" for file-level problems
	Field  string // "weight", "pattern.wscale", ...
	Msg    string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Entry != "" {
		b.WriteString("entry " + strconv.Quote(e.Entry) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *LoadError) Unwrap() error { return ErrInvalid }

// Embedded loads the data files compiled into the binary.
func Embedded() (*Set, error) {
	files, err := readFS(embeddedData())
	if err != nil {
		return nil, err
	}
	return build(files)
}

// Load loads every *.yaml and *.yml file at the top of fsys.
func Load(fsys fs.FS) (*Set, error) {
	files, err := readFS(fsys)
	if err != nil {
		return nil, err
	}
	return build(files)
}

// LoadWithOverrides loads the embedded files, then the *.yaml/*.yml files
// of dir: a file of dir replaces the embedded file of the same name
// (whole file, not entry by entry), other files are added.
func LoadWithOverrides(dir string) (*Set, error) {
	files, err := readFS(embeddedData())
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("signatures: override directory: %w", err)
	}
	byName := make(map[string]int, len(files))
	for i, f := range files {
		byName[f.name] = i
	}
	for _, de := range des {
		if de.IsDir() || !isDataFile(de.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", err)
		}
		if i, ok := byName[de.Name()]; ok {
			files[i].data = data
		} else {
			files = append(files, rawFile{name: de.Name(), data: data})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return build(files)
}

type rawFile struct {
	name string
	data []byte
}

func embeddedData() fs.FS {
	sub, err := fs.Sub(embedded, "data")
	if err != nil { // cannot happen: "data" is a valid path
		return embedded
	}
	return sub
}

func isDataFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func readFS(fsys fs.FS) ([]rawFile, error) {
	des, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	var files []rawFile
	for _, de := range des {
		if de.IsDir() || !isDataFile(de.Name()) {
			continue
		}
		data, err := fs.ReadFile(fsys, de.Name())
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", err)
		}
		files = append(files, rawFile{name: de.Name(), data: data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("signatures: no *.yaml files: %w", ErrInvalid)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, nil
}

// builder accumulates entries and errors over all files of a set.
type builder struct {
	set      *Set
	errs     []error
	ids      map[string]string // id -> "file:line:col"
	patterns map[string]string // kind+"\x00"+pattern -> "id at file:line:col"
}

func build(files []rawFile) (*Set, error) {
	b := &builder{
		set:      &Set{versions: make(map[string]string, len(files))},
		ids:      make(map[string]string),
		patterns: make(map[string]string),
	}
	for _, f := range files {
		b.parseFile(f)
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	b.set.index()
	return b.set, nil
}

func (b *builder) fail(file string, n *yaml.Node, entry, field, format string, args ...any) {
	e := &LoadError{File: file, Entry: entry, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	b.errs = append(b.errs, e)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func (b *builder) parseFile(f rawFile) {
	var doc yaml.Node
	if err := yaml.Unmarshal(f.data, &doc); err != nil {
		e := &LoadError{File: f.name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		b.errs = append(b.errs, e)
		return
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		b.errs = append(b.errs, &LoadError{File: f.name, Line: 1, Field: "version", Msg: "missing (the file is empty)"})
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		b.fail(f.name, root, "", "", "top level must be a mapping with version and entries")
		return
	}
	var version string
	var versionSeen bool
	var entries *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			versionSeen = true
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || strings.TrimSpace(v.Value) == "" {
				b.fail(f.name, v, "", "version", "must be a non-empty string (quote it: \"2026.11.27-1\")")
				continue
			}
			version = v.Value
		case "entries":
			if v.Kind != yaml.SequenceNode {
				b.fail(f.name, v, "", "entries", "must be a list of entries")
				continue
			}
			entries = v
		default:
			b.fail(f.name, k, "", k.Value, "unknown field (expected version or entries)")
		}
	}
	if !versionSeen {
		b.fail(f.name, root, "", "version", "missing")
	}
	if entries == nil {
		b.fail(f.name, root, "", "entries", "missing")
		return
	}
	b.set.versions[f.name] = version
	set := f.name + "@" + version
	for _, n := range entries.Content {
		b.parseEntry(f.name, set, n)
	}
}

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$`)

func (b *builder) parseEntry(file, set string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		b.fail(file, n, "", "entries", "each entry must be a mapping with id, kind, pattern, platform, weight, source")
		return
	}
	e := Entry{File: file, Line: n.Line, Set: set}
	var idNode, kindNode, patNode, platNode, weightNode, sourceNode, productNode *yaml.Node
	// The id is read first so that every later message names the entry.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			idNode = n.Content[i+1]
			e.ID = idNode.Value
		}
	}
	str := func(k, v *yaml.Node) (string, bool) {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			b.fail(file, v, e.ID, k.Value, "must be a string")
			return "", false
		}
		return v.Value, true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id":
		case "kind":
			kindNode = v
			e.Kind, _ = str(k, v)
		case "pattern":
			patNode = v
		case "platform":
			platNode = v
			e.Platform, _ = str(k, v)
		case "weight":
			weightNode = v
		case "source":
			sourceNode = v
			e.Source, _ = str(k, v)
		case "note":
			e.Note, _ = str(k, v)
		case "product":
			productNode = v
			e.Product, _ = str(k, v)
		default:
			b.fail(file, k, e.ID, k.Value, "unknown field (expected id, kind, pattern, platform, weight, source, note, product)")
		}
	}
	at := func(v *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", file, v.Line, v.Column) }
	ok := true
	switch {
	case idNode == nil:
		b.fail(file, n, "", "id", "missing")
		ok = false
	case idNode.Kind != yaml.ScalarNode || !idRe.MatchString(e.ID):
		b.fail(file, idNode, e.ID, "id", "must be dotted lower-case words, e.g. apple.dns.push-courier")
		ok = false
	default:
		if prev, dup := b.ids[e.ID]; dup {
			b.fail(file, idNode, e.ID, "id", "duplicate id, first defined at %s", prev)
			ok = false
		} else {
			b.ids[e.ID] = at(idNode)
		}
	}
	if kindNode == nil {
		b.fail(file, n, e.ID, "kind", "missing")
		ok = false
	} else if !kinds[e.Kind] {
		b.fail(file, kindNode, e.ID, "kind", "unknown kind %q (known: %s)", e.Kind, strings.Join(sortedKeys(kinds), ", "))
		ok = false
	}
	if platNode == nil {
		b.fail(file, n, e.ID, "platform", "missing")
		ok = false
	} else if !platforms[e.Platform] {
		b.fail(file, platNode, e.ID, "platform", "unknown platform %q (known: %s)", e.Platform, strings.Join(sortedKeys(platforms), ", "))
		ok = false
	}
	if weightNode == nil {
		b.fail(file, n, e.ID, "weight", "missing")
		ok = false
	} else {
		w, err := strconv.ParseFloat(weightNode.Value, 64)
		if weightNode.Kind != yaml.ScalarNode || (weightNode.Tag != "!!int" && weightNode.Tag != "!!float") ||
			err != nil || math.IsNaN(w) || w < -10 || w > 10 {
			b.fail(file, weightNode, e.ID, "weight", "must be a number between -10 and 10")
			ok = false
		}
		e.Weight = w
	}
	if sourceNode == nil {
		b.fail(file, n, e.ID, "source", "missing (say where the fact comes from)")
		ok = false
	} else if strings.TrimSpace(e.Source) == "" {
		b.fail(file, sourceNode, e.ID, "source", "must not be empty")
		ok = false
	}
	if productNode != nil && e.Kind != KindMDNSModel && kinds[e.Kind] {
		b.fail(file, productNode, e.ID, "product", "only mdns-model entries have a product")
		ok = false
	}
	if patNode == nil {
		b.fail(file, n, e.ID, "pattern", "missing")
		return
	}
	if kindNode == nil || !kinds[e.Kind] {
		return // the pattern cannot be checked without a kind
	}
	if !b.compilePattern(file, &e, patNode) || !ok {
		return
	}
	key := e.Kind + "\x00" + e.Pattern
	if prev, dup := b.patterns[key]; dup {
		b.fail(file, patNode, e.ID, "pattern", "same %s pattern as entry %s", e.Kind, prev)
		return
	}
	b.patterns[key] = fmt.Sprintf("%q at %s", e.ID, at(patNode))
	b.set.entries = append(b.set.entries, e)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	ja4Re         = regexp.MustCompile(`^[tqd][0-9s][0-9a-z][di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)
	ja3Re         = regexp.MustCompile(`^[0-9a-f]{32}$`)
	serviceRe     = regexp.MustCompile(`^_[a-z0-9][a-z0-9-]*\._(tcp|udp)$`)
	modelRe       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\d+,\d+|\*)?$`)
	layoutTokenRe = regexp.MustCompile(`^(mss|nop|ws|ts|sok|eol(\+\d+)?|\?\d+)$`)
	ja4tRe        = regexp.MustCompile(`^\d+_[0-9-]*_\d+_\d+$`)
)

// compilePattern checks the pattern for e.Kind and fills the compiled form.
func (b *builder) compilePattern(file string, e *Entry, n *yaml.Node) bool {
	bad := func(field, format string, args ...any) bool {
		b.fail(file, n, e.ID, field, format, args...)
		return false
	}
	switch e.Kind {
	case KindTCPSyn:
		return b.compileTCP(file, e, n)
	case KindDHCP:
		return b.compileDHCP(file, e, n)
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return bad("pattern", "must be a string for kind %s", e.Kind)
	}
	p := n.Value
	if strings.TrimSpace(p) == "" {
		return bad("pattern", "must not be empty")
	}
	switch e.Kind {
	case KindDNSName, KindTLSSNI:
		norm, err := normalizeNamePattern(p)
		if err != nil {
			return bad("pattern", "%v", err)
		}
		e.Pattern = norm
	case KindTLSJA4:
		if !ja4Re.MatchString(p) {
			return bad("pattern", "not a JA4 (want e.g. t13d1516h2_8daaf6152771_02713d6af862)")
		}
		e.Pattern = p
	case KindTLSJA3:
		p = strings.ToLower(p)
		if !ja3Re.MatchString(p) {
			return bad("pattern", "not a JA3 hash (want 32 hex digits)")
		}
		e.Pattern = p
	case KindDHCPVendor, KindDHCPHostname, KindMDNSTXT, KindHTTPUA:
		re, err := regexp.Compile(p)
		if err != nil {
			return bad("pattern", "bad regular expression: %v", err)
		}
		e.re, e.Pattern = re, p
	case KindMDNSService:
		if !serviceRe.MatchString(p) {
			return bad("pattern", "not a DNS-SD service type (want e.g. _companion-link._tcp)")
		}
		e.Pattern = p
	case KindMDNSModel:
		if !modelRe.MatchString(p) {
			return bad("pattern", "not a model identifier (want e.g. iPhone14,2, or a family glob such as iPhone*)")
		}
		if strings.TrimSpace(e.Product) == "" {
			b.fail(file, n, e.ID, "product", "missing (mdns-model entries name the product)")
			return false
		}
		e.Pattern = p
	case KindAddressPort:
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			return bad("pattern", "want CIDR:port, e.g. 17.0.0.0/8:5223")
		}
		pfx, err := netip.ParsePrefix(p[:i])
		if err != nil {
			return bad("pattern", "bad CIDR %q: want e.g. 17.0.0.0/8", p[:i])
		}
		port := p[i+1:]
		if port != "*" {
			v, err := strconv.ParseUint(port, 10, 16)
			if err != nil || v == 0 {
				return bad("pattern", "bad port %q: want 1-65535 or *", port)
			}
			e.port = uint16(v)
		}
		e.prefix = pfx.Masked()
		e.Pattern = e.prefix.String() + ":" + port
	}
	return true
}

// normalizeNamePattern lower-cases a DNS name pattern and checks its
// wildcards: "*" inside a label matches one or more characters of that
// label; a leading "**." matches one or more whole labels. At least two
// fixed labels must follow the last wildcard, so no pattern covers a TLD.
func normalizeNamePattern(p string) (string, error) {
	p = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), ".")
	if len(p) > 253 {
		return "", errors.New("name longer than 253 characters")
	}
	body := p
	if strings.HasPrefix(p, "**.") {
		body = p[3:]
		if strings.Contains(body, "*") {
			return "", errors.New(`"**." must be followed by a name without wildcards`)
		}
	}
	labels := strings.Split(body, ".")
	lastWild := -1
	for i, l := range labels {
		if l == "" {
			return "", errors.New("empty label")
		}
		if len(l) > 63 {
			return "", errors.New("label longer than 63 characters")
		}
		if strings.Contains(l, "**") {
			return "", errors.New(`"**" is allowed only as a whole leading label ("**.example.com")`)
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*') {
				return "", fmt.Errorf("character %q not allowed in a name", c)
			}
		}
		if strings.Contains(l, "*") {
			lastWild = i
		}
	}
	fixed := len(labels) - lastWild - 1
	if p != body {
		fixed = len(labels)
	}
	if (lastWild >= 0 || p != body) && fixed < 2 {
		return "", errors.New("too broad: at least two fixed labels must follow the last wildcard")
	}
	return p, nil
}

func (b *builder) compileTCP(file string, e *Entry, n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		b.fail(file, n, e.ID, "pattern", "tcp-syn pattern must be a mapping: {ittl, window, wscale, mss, olayout, quirks} or {ja4t}")
		return false
	}
	t := &TCPPattern{Window: -1, WScale: -2, MSS: -1}
	ok := true
	num := func(k, v *yaml.Node, min, max int64, any bool) (int64, bool) {
		if any && v.Kind == yaml.ScalarNode && v.Value == "*" {
			return -1, true
		}
		x, err := strconv.ParseInt(v.Value, 10, 64)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || x < min || x > max {
			star := ""
			if any {
				star = ` or "*"`
			}
			b.fail(file, v, e.ID, "pattern."+k.Value, "must be an integer %d-%d%s", min, max, star)
			ok = false
			return 0, false
		}
		return x, true
	}
	var parts []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "ittl":
			if x, good := num(k, v, 1, 255, false); good {
				t.ITTL = uint8(x)
			}
		case "window":
			if x, good := num(k, v, 0, 65535, true); good {
				t.Window = int32(x)
			}
		case "mss":
			if x, good := num(k, v, 0, 65535, true); good {
				t.MSS = int32(x)
			}
		case "wscale":
			if v.Kind == yaml.ScalarNode && v.Value == "none" {
				t.WScale = -1
			} else if x, good := num(k, v, 0, 14, true); good {
				if x < 0 {
					t.WScale = -2
				} else {
					t.WScale = int8(x)
				}
			}
		case "olayout":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				b.fail(file, v, e.ID, "pattern.olayout", "must be a p0f option layout, e.g. mss,nop,ws,nop,nop,ts,sok,eol")
				ok = false
				continue
			}
			for _, tok := range strings.Split(v.Value, ",") {
				if !layoutTokenRe.MatchString(tok) {
					b.fail(file, v, e.ID, "pattern.olayout", "unknown option %q (known: mss nop ws ts sok eol eol+N ?N)", tok)
					ok = false
				}
			}
			t.OLayout = v.Value
		case "quirks":
			if v.Kind != yaml.SequenceNode {
				b.fail(file, v, e.ID, "pattern.quirks", "must be a list, e.g. [ecn]")
				ok = false
				continue
			}
			for _, q := range v.Content {
				if q.Kind != yaml.ScalarNode || q.Value == "" {
					b.fail(file, q, e.ID, "pattern.quirks", "each quirk must be a word, e.g. ecn")
					ok = false
					continue
				}
				t.Quirks = append(t.Quirks, q.Value)
			}
		case "ja4t":
			if v.Kind != yaml.ScalarNode || !ja4tRe.MatchString(v.Value) {
				b.fail(file, v, e.ID, "pattern.ja4t", "must be window_options_mss_scale, e.g. 65535_2-1-3-1-1-8-4-0-0_1460_6")
				ok = false
				continue
			}
			t.JA4T = v.Value
		default:
			b.fail(file, k, e.ID, "pattern."+k.Value, "unknown field (expected ittl, window, wscale, mss, olayout, quirks, ja4t)")
			ok = false
		}
	}
	if !ok {
		return false
	}
	if t.JA4T == "" && t.OLayout == "" {
		b.fail(file, n, e.ID, "pattern", "a tcp-syn pattern needs olayout (or ja4t)")
		return false
	}
	if t.JA4T != "" {
		parts = append(parts, "ja4t="+t.JA4T)
	} else {
		if t.ITTL != 0 {
			parts = append(parts, "ittl="+strconv.Itoa(int(t.ITTL)))
		}
		if t.Window >= 0 {
			parts = append(parts, "window="+strconv.Itoa(int(t.Window)))
		}
		switch {
		case t.WScale >= 0:
			parts = append(parts, "wscale="+strconv.Itoa(int(t.WScale)))
		case t.WScale == -1:
			parts = append(parts, "wscale=none")
		}
		if t.MSS >= 0 {
			parts = append(parts, "mss="+strconv.Itoa(int(t.MSS)))
		}
		parts = append(parts, "olayout="+t.OLayout)
		if len(t.Quirks) > 0 {
			parts = append(parts, "quirks="+strings.Join(t.Quirks, ","))
		}
	}
	e.tcp = t
	e.Pattern = strings.Join(parts, " ")
	return true
}

var dhcpMessages = map[string]bool{
	"discover": true, "request": true, "inform": true, "decline": true, "release": true,
}

func (b *builder) compileDHCP(file string, e *Entry, n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		b.fail(file, n, e.ID, "pattern", "dhcp pattern must be a mapping: {params, order, no-vendor-class, messages}")
		return false
	}
	d := &DHCPPattern{}
	ok := true
	codes := func(k, v *yaml.Node) []int {
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			b.fail(file, v, e.ID, "pattern."+k.Value, "must be a non-empty list of option codes, e.g. [1, 121, 3, 6]")
			ok = false
			return nil
		}
		out := make([]int, 0, len(v.Content))
		for _, c := range v.Content {
			x, err := strconv.Atoi(c.Value)
			if c.Kind != yaml.ScalarNode || c.Tag != "!!int" || err != nil || x < 0 || x > 255 {
				b.fail(file, c, e.ID, "pattern."+k.Value, "option code must be an integer 0-255")
				ok = false
				return nil
			}
			out = append(out, x)
		}
		return out
	}
	var parts []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "params":
			for _, c := range codes(k, v) {
				d.Params = append(d.Params, uint8(c))
			}
		case "order":
			for _, c := range codes(k, v) {
				if c != 0 && c != 255 {
					d.Order = append(d.Order, uint16(c))
				}
			}
		case "no-vendor-class":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				b.fail(file, v, e.ID, "pattern.no-vendor-class", "must be true or false")
				ok = false
				continue
			}
			d.NoVendorClass = v.Value == "true"
		case "messages":
			if v.Kind != yaml.SequenceNode {
				b.fail(file, v, e.ID, "pattern.messages", "must be a list, e.g. [discover, request]")
				ok = false
				continue
			}
			for _, m := range v.Content {
				if !dhcpMessages[m.Value] {
					b.fail(file, m, e.ID, "pattern.messages", "unknown client message %q (known: discover, request, inform, decline, release)", m.Value)
					ok = false
					continue
				}
				d.Messages = append(d.Messages, m.Value)
			}
		default:
			b.fail(file, k, e.ID, "pattern."+k.Value, "unknown field (expected params, order, no-vendor-class, messages)")
			ok = false
		}
	}
	if !ok {
		return false
	}
	if len(d.Params) == 0 && len(d.Order) == 0 {
		b.fail(file, n, e.ID, "pattern", "a dhcp pattern needs params or order")
		return false
	}
	if len(d.Params) > 0 {
		parts = append(parts, "params="+joinInts(d.Params))
	}
	if len(d.Order) > 0 {
		parts = append(parts, "order="+joinInts(d.Order))
	}
	if d.NoVendorClass {
		parts = append(parts, "no-vendor-class")
	}
	if len(d.Messages) > 0 {
		parts = append(parts, "messages="+strings.Join(d.Messages, ","))
	}
	e.dhcp = d
	e.Pattern = strings.Join(parts, " ")
	return true
}

func joinInts[T uint8 | uint16](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}
