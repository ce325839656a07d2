package capture

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/orchard-nsm/orchard"

// TestLayout enforces DESIGN.md's one-way dependencies and that every
// package says what it is: parsers import nothing of the project but the
// observation types; capture/ and signatures/ never import agent/; bpf/
// imports nothing of the project.
func TestLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Doc        string
			Imports    []string
			Name       string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if p.Doc == "" && p.Name != "main" {
			t.Errorf("%s: no package doc comment", rel)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			top := strings.SplitN(rel, "/", 2)[0]
			switch {
			case (top == "capture" || top == "signatures") && strings.HasPrefix(dep, "agent"):
				t.Errorf("%s imports %s: capture/ and signatures/ must not import agent/", rel, dep)
			case top == "signatures" && dep != "capture/observe":
				t.Errorf("%s imports %s: signatures/ may import only the observation types", rel, dep)
			case top == "bpf":
				t.Errorf("%s imports %s: bpf/ imports nothing of the project", rel, dep)
			case strings.HasPrefix(rel, "capture/") && rel != "capture/live" && dep != "capture/observe":
				t.Errorf("%s imports %s: parsers import only capture/observe", rel, dep)
			case rel == "capture" && !strings.HasPrefix(dep, "capture/"):
				t.Errorf("capture imports %s", dep)
			case rel == "capture/live" && !(strings.HasPrefix(dep, "capture") || dep == "bpf"):
				t.Errorf("capture/live imports %s", dep)
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d packages listed", n)
	}
}
