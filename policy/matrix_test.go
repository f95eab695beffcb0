package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	"github.com/carnet-sante/carnet"
)

// sharedMatrix opens ../shared/reference/access-matrix-partial.csv, skipping
// when the shared tree is absent (and failing under CI=true).
func sharedMatrix(t testing.TB) *Matrix {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "reference", "access-matrix-partial.csv")
	f, err := os.Open(path)
	if err != nil {
		if ci.Enforced() {
			t.Fatalf("open %s: %v (CI=true: the shared reference data must be present)", path, err)
		}
		t.Skipf("shared reference data absent (%v): skipping", err)
	}
	defer f.Close()
	m, err := LoadMatrix(f)
	if err != nil {
		t.Fatalf("LoadMatrix(%s): %v", path, err)
	}
	return m
}

func TestLoadMatrixPartial(t *testing.T) {
	m := sharedMatrix(t)
	if got, want := len(m.Rules), 18; got != want {
		t.Errorf("rules = %d, want %d", got, want)
	}
	if m.DenyByDefault {
		t.Errorf("DenyByDefault = true after load, want false (the partial file lists denials only)")
	}
	tests := []struct {
		profession, specialty string
		types                 []string
		want                  Effect // "" when no rule applies
		line                  int
	}{
		{"G15_40", "", []string{"http://loinc.org|68599-0", "68599-0"}, Deny, 7},
		{"G15_60", "", []string{"89601-9"}, Deny, 16},
		{"DAC", "", []string{"57833-6"}, Deny, 21},
		{"G15_10", "", []string{"ATTESTATION_RESIDENCE"}, Deny, 6},
		{"G15_10", "G15_10/SM04", []string{"ATTESTATION_RESIDENCE"}, Deny, 6}, // the profession's rule reaches its specialties
		{"G15_10", "", []string{"68599-0"}, "", 0},
		{"G15_21", "", []string{"68599-0"}, "", 0},
		{"G15_40", "", []string{"11502-2"}, "", 0},
		{"G15_40", "", nil, "", 0},
	}
	for _, tt := range tests {
		r, ok := m.Lookup(tt.profession, tt.specialty, tt.types)
		if got := map[bool]Effect{true: r.Effect}[ok]; got != tt.want {
			t.Errorf("Lookup(%s, %s, %v) = %q, want %q", tt.profession, tt.specialty, tt.types, got, tt.want)
			continue
		}
		if ok && r.Line != tt.line {
			t.Errorf("Lookup(%s, %v) line = %d, want %d", tt.profession, tt.types, r.Line, tt.line)
		}
	}
}

func TestLoadMatrixShapes(t *testing.T) {
	const header = "profession,document,label,effect,source\n"
	t.Run("specialty before profession", func(t *testing.T) {
		m, err := LoadMatrix(strings.NewReader(header +
			"G15_10,18748-4,CR imagerie,deny,test\nG15_10/SM04,18748-4,CR imagerie,allow,test\n"))
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := m.Lookup("G15_10", "G15_10/SM04", []string{"18748-4"}); r.Effect != Allow {
			t.Errorf("cardiologist: %v, want allow from the specialty line", r)
		}
		if r, _ := m.Lookup("G15_10", "G15_10/SM01", []string{"18748-4"}); r.Effect != Deny {
			t.Errorf("other specialty: %v, want deny from the profession line", r)
		}
	})
	t.Run("columns reordered, BOM, CRLF, case", func(t *testing.T) {
		m, err := LoadMatrix(strings.NewReader("\xef\xbb\xbf# c\r\nEffect,Document,Profession,Label,Source,Extra\r\nDENY,X1,P1,,s,e\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := m.Lookup("P1", "", []string{"X1"}); !ok || r.Effect != Deny {
			t.Errorf("Lookup = %v %v, want deny", r, ok)
		}
	})
	t.Run("repeated identical line", func(t *testing.T) {
		m, err := LoadMatrix(strings.NewReader(header + "P,D,,deny,a\nP,D,,deny,b\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Rules) != 1 {
			t.Errorf("rules = %d, want 1", len(m.Rules))
		}
	})
}

func TestLoadMatrixMalformed(t *testing.T) {
	const header = "profession,document,label,effect,source\n"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no header"},
		{"comments only", "# a\n# b\n", "no header"},
		{"missing column", "# x\nprofession,document,label,source\nP,D,L,s\n", "line 2: header lacks column \"effect\""},
		{"bad effect", header + "P,D,L,deny,s\nP,E,L,maybe,s\n", "line 3: effect \"maybe\""},
		{"too few fields", header + "P,D,deny\n", "line 2: 3 fields"},
		{"empty profession", header + ",D,L,deny,s\n", "line 2: empty profession"},
		{"empty document", "#c\n" + header + "P, ,L,deny,s\n", "line 3: empty document"},
		{"bad quote", header + "P,\"D,L,deny,s\n", "line 2"},
		{"contradiction", header + "P,D,,deny,s\nP,D,,allow,s\n", "line 3: P × D contradicts line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadMatrix(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("LoadMatrix succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if k := carnet.ErrorKind(err); k != carnet.KindInvalid {
				t.Errorf("kind = %v, want invalid", k)
			}
		})
	}
}

func FuzzLoadMatrix(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "reference", "access-matrix-partial.csv")); err == nil {
		f.Add(string(b))
	}
	f.Add("profession,document,label,effect,source\nP,D,L,deny,s\n")
	f.Add("# c\nsource,effect,label,document,profession\ns,allow,,D,P\n")
	f.Add("profession,document,label,effect,source\n\"P\n\",D,L,deny,s\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := LoadMatrix(strings.NewReader(in))
		if err != nil {
			if carnet.ErrorKind(err) != carnet.KindInvalid {
				t.Fatalf("error kind %v, want invalid: %v", carnet.ErrorKind(err), err)
			}
			return
		}
		// Every loaded rule is found again by its own key, with its effect.
		for _, r := range m.Rules {
			if r.Profession == "" || r.Document == "" || (r.Effect != Allow && r.Effect != Deny) {
				t.Fatalf("loaded an invalid rule %+v", r)
			}
			got, ok := m.Lookup(r.Profession, "", []string{r.Document})
			if !ok || got.Effect != r.Effect {
				t.Fatalf("Lookup(%q, %q) = %v %v, want %v", r.Profession, r.Document, got, ok, r.Effect)
			}
		}
	})
}
