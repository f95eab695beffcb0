package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// docExample is one runnable block of docs/examples/README.md: the shell
// lines under an <!-- example: NAME expect: REGEXP [body: TEXT] --> marker.
type docExample struct {
	name   string
	expect *regexp.Regexp // the block's last output line
	body   string         // text its output must contain
	script string
}

var exampleRE = regexp.MustCompile("(?s)<!-- example: (\\S+) expect: (.*?)(?: body: (.*?))? -->\n```sh\n(.*?)\n```")

func readDocExamples(t *testing.T, page string) []docExample {
	t.Helper()
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	for _, m := range exampleRE.FindAllStringSubmatch(string(b), -1) {
		re, err := regexp.Compile(m[2])
		if err != nil {
			t.Fatalf("example %s: expect %q: %v", m[1], m[2], err)
		}
		out = append(out, docExample{name: m[1], expect: re, body: m[3], script: m[4]})
	}
	return out
}

// The runnable examples (issue 13 item 16) are run as a user pastes them:
// by bash and curl, in the repository, with `carnet` on the PATH, against
// a fresh demo server, in the page's order; each block's answer is the one
// the page documents. Every JSON file of docs/examples is used by the page.
func TestDocExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			ci.Missing(t, "%s is not installed: the documented examples are not run", tool)
		}
	}
	root := testenv.ModuleRoot(t)
	page := filepath.Join(root, "docs", "examples", "README.md")
	examples := readDocExamples(t, page)
	if len(examples) < 10 {
		t.Fatalf("%d runnable examples in %s, want every transaction's", len(examples), page)
	}

	// Every body file is sent by some example (a `for kind in …` loop
	// sends consent-$kind.json for each kind it names).
	loopRE := regexp.MustCompile(`for kind in ([^;]+);`)
	var sent []string
	for _, e := range examples {
		sent = append(sent, e.script)
		if m := loopRE.FindStringSubmatch(e.script); m != nil {
			for _, kind := range strings.Fields(m[1]) {
				sent = append(sent, strings.ReplaceAll(e.script, "$kind", kind))
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "examples", "*.json"))
	for _, f := range files {
		name := "docs/examples/" + filepath.Base(f)
		if !slices.ContainsFunc(sent, func(script string) bool { return strings.Contains(script, name) }) {
			t.Errorf("%s is sent by no example of the page", name)
		}
	}

	s := startServe(t, "--demo", "--data", t.TempDir())
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nCARNET_TEST_AS_CARNET=1 exec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(bin, "carnet"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}

	// One shell for the whole page, as a user keeps their terminal: what
	// a block sets ($ID, the tokens) is there for the next.
	var script strings.Builder
	for _, e := range examples {
		fmt.Fprintf(&script, "echo '@@@ %s'\n%s\necho\n", e.name, e.script)
	}
	fmt.Fprintf(&script, "echo '@@@ end'\n")
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CARNET_URL="+s.URL, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the examples' shell: %v\n%s", err, stderr.String())
	}
	outputs := map[string]string{}
	parts := strings.Split(string(out), "@@@ ")
	for _, p := range parts[1:] {
		name, rest, _ := strings.Cut(p, "\n")
		outputs[name] = rest
	}
	if _, ok := outputs["end"]; !ok {
		t.Fatalf("the examples did not all run:\n%s\n%s", out, stderr.String())
	}
	for _, e := range examples {
		got, ok := outputs[e.name]
		if !ok {
			t.Errorf("example %s: no output", e.name)
			continue
		}
		lines := strings.Split(strings.TrimSpace(got), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		if !e.expect.MatchString(last) {
			t.Errorf("example %s: answered %q, the page says %s\n%s", e.name, last, e.expect, clip(got))
		}
		if e.body != "" && !strings.Contains(got, e.body) {
			t.Errorf("example %s: the answer does not contain %q\n%s", e.name, e.body, clip(got))
		}
	}
	if t.Failed() {
		t.Logf("stderr of the examples' shell:\n%s", stderr.String())
	}
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
