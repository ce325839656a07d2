package agent_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedImports lists, per agent package, the project packages it may
// import (DESIGN.md: agent may import capture/ and signatures/; inside
// agent/, dependencies point one way: config ← hosts, verdict, mail ←
// correlate ← agent ← ecs).
var allowedImports = map[string][]string{
	".":         {"capture/observe", "signatures", "agent/config", "agent/hosts", "agent/verdict", "agent/mail", "agent/correlate"},
	"config":    {"capture/observe"},
	"hosts":     {"capture/observe"},
	"verdict":   {"signatures"},
	"mail":      {"capture/observe", "agent/config"},
	"correlate": {"capture/observe", "agent/config", "agent/verdict", "agent/mail"},
	"ecs":       {"capture/observe", "signatures", "agent", "agent/correlate", "agent/mail", "agent/verdict"},
}

const module = "github.com/orchard-nsm/orchard/"

func TestPackageDocsAndImports(t *testing.T) {
	for dir, allowed := range allowedImports {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		hasDoc := false
		for _, name := range files {
			test := strings.HasSuffix(name, "_test.go")
			f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if !test && f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package ") {
				hasDoc = true
			}
			if test {
				continue
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(p, module)
				if !ok {
					continue
				}
				found := false
				for _, a := range allowed {
					found = found || a == rel
				}
				if !found {
					t.Errorf("%s imports %s, which agent/%s may not", name, rel, dir)
				}
			}
		}
		if !hasDoc {
			t.Errorf("agent/%s has no package doc comment", dir)
		}
	}
}
