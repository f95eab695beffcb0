package cda

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
)

// formatsPath is the ANS volet table, outside the repository.
var formatsPath = envOr("CI_SIS_FORMATS", filepath.Join("..", "..", "shared", "reference", "ci-sis-formats.csv"))

// formatTable loads the CI-SIS volet table, skipping (failing under CI)
// where the shared reference data is absent.
func formatTable(tb testing.TB) *FormatTable {
	tb.Helper()
	if _, err := os.Stat(formatsPath); err != nil {
		if ci.Enforced() {
			tb.Fatalf("CI-SIS format table missing at %s", formatsPath)
		}
		tb.Skipf("CI-SIS format table missing at %s", formatsPath)
	}
	t, err := LoadFormatsFile(formatsPath)
	if err != nil {
		tb.Fatalf("LoadFormatsFile: %v", err)
	}
	return t
}

func TestLoadFormatsANS(t *testing.T) {
	ft := formatTable(t)
	rows := ft.Rows()
	if len(rows) != 79 {
		t.Errorf("%d rows, want the 79 of the ANS table", len(rows))
	}
	aliases := 0
	for _, r := range rows {
		if r.Alias {
			aliases++
			if r.Root != "1.3.6.1.4.1.19376.1.3.3" {
				t.Errorf("alias row %+v, want only the IHE XD-LAB one", r)
			}
		}
		if !strings.HasPrefix(r.Code.System, "urn:oid:") || r.Code.Display == "" {
			t.Errorf("row %s: code %+v", r.Volet, r.Code)
		}
	}
	if aliases != 1 {
		t.Errorf("%d alias rows, want 1", aliases)
	}
}

// doc builds a Document with the given ClinicalDocument templateIds
// ("root" or "root/extension").
func doc(level Level, media string, templates ...string) *Document {
	d := &Document{Level: level}
	if media != "" {
		d.Attachment = &Attachment{MediaType: media}
	}
	for _, t := range templates {
		root, ext, _ := strings.Cut(t, "/")
		d.Templates = append(d.Templates, TemplateID{Root: root, Extension: ext})
		d.TemplateIDs = append(d.TemplateIDs, root)
	}
	return d
}

// TestFormatMatch covers the rules of ci-sis-formats.md with the ANS
// table, including volets absent from the corpus (anaesthesia, stroke,
// perinatal, ophthalmology, telemedicine).
func TestFormatMatch(t *testing.T) {
	ft := formatTable(t)
	const head = "1.2.250.1.213.1.1.1.1"
	tests := []struct {
		name string
		d    *Document
		how  How
		code string
	}{
		{"anaesthesia report, exact version", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.40/2022.01"), FormatByTemplate, "urn:asip:ci-sis:cr-anest:2020"},
		{"stroke unit admission, unlisted version by root", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.15/2026.01"), FormatByTemplate, "urn:asip:ci-sis:aunv:2013"},
		{"perinatal antepartum", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.12.1/2024.01"), FormatByTemplate, "urn:asip:ci-sis:obp-sap:2023"},
		{"retinography", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.18/2022.01"), FormatByTemplate, "urn:asip:ci-sis:crrtn:2013"},
		{"telemedicine request", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.38/2022.01"), FormatByTemplate, "urn:asip:ci-sis:tlm-da:2020"},
		{"CR-BIO: the CI-SIS row wins over the XD-LAB alias listed first", doc(LevelN3, "", "1.3.6.1.4.1.19376.1.3.3", head, "1.2.250.1.213.1.1.1.55/2024.01"), FormatByTemplate, "urn:ihe:lab:xd-lab:2008"},
		{"XD-LAB alone: the alias", doc(LevelN3, "", head, "1.3.6.1.4.1.19376.1.3.3"), FormatByTemplate, "urn:ihe:lab:xd-lab:2008"},
		{"CSE-CS8: the volet's code, not the deprecated QRPH one", doc(LevelN3, "", "1.3.6.1.4.1.19376.1.7.3.1.1.13.1", head, "1.2.250.1.213.1.1.1.5.1/2024.01"), FormatByTemplate, "urn:asip:ci-sis:cse-cs8:2017"},
		{"N1 PDF", doc(LevelN1, "application/pdf", head, "1.3.6.1.4.1.19376.1.2.20"), FormatByBody, "urn:ihe:iti:xds-sd:pdf:2008"},
		{"N1 plain text", doc(LevelN1, "text/plain", head, "1.3.6.1.4.1.19376.1.2.20"), FormatByBody, "urn:ihe:iti:xds-sd:text:2008"},
		{"N1 JPEG", doc(LevelN1, "image/jpeg", head, "1.3.6.1.4.1.19376.1.2.20"), FormatByBody, "urn:ihe:iti-fr:xds-sd:jpeg:2010"},
		{"N1 of another type", doc(LevelN1, "application/msword", head, "1.3.6.1.4.1.19376.1.2.20"), FormatNone, ""},
		{"CI-SIS model in no row", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.999/2030.01"), FormatFallback, FallbackFormat.Code},
		{"CI-SIS header only", doc(LevelN3, "", head), FormatFallback, FallbackFormat.Code},
		{"deprecated model (CRH)", doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.3.1"), FormatFallback, FallbackFormat.Code},
		{"US C-CDA", doc(LevelN3, "", "2.16.840.1.113883.10.20.22.1.1", "2.16.840.1.113883.10.20.22.1.2"), FormatNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ft.Match(tt.d)
			if m.How != tt.how || m.Code.Code != tt.code {
				t.Fatalf("Match = %s %q (%s), want %s %q", m.How, m.Code.Code, m.Reason, tt.how, tt.code)
			}
			if (tt.how == FormatFallback || tt.how == FormatNone) && m.Reason == "" {
				t.Error("no reason given for a fallback or a missing format")
			}
			if tt.how != FormatNone {
				if known, active := ft.Known(m.Code); !known || !active {
					t.Errorf("derived %v is not an active code of the table (known %v, active %v)", m.Code, known, active)
				}
			}
		})
	}
	if m := (*FormatTable)(nil).Match(doc(LevelN3, "", head, "1.2.250.1.213.1.1.1.40/2022.01")); m.How != FormatNone || !strings.Contains(m.Reason, "--ci-sis-formats") {
		t.Errorf("without a table: %+v, want none, naming the flag", m)
	}
	// The N1 codes are IHE XDS-SD's: an unstructured document gets its
	// code without the national table, the same as with it.
	for _, media := range []string{"application/pdf", "text/plain"} {
		d := doc(LevelN1, media, head, "1.3.6.1.4.1.19376.1.2.20")
		without, with := (*FormatTable)(nil).Match(d), ft.Match(d)
		if without.How != FormatByBody || without.Code.Code != with.Code.Code || without.Code.System != with.Code.System {
			t.Errorf("N1 %s without a table: %+v, with it %+v; want the same code", media, without.Code, with.Code)
		}
	}
}

func TestLoadFormatsRefusesDamagedTables(t *testing.T) {
	const header = "volet,template_root,template_extension,format_code,format_system,format_display,status,source\n"
	for name, body := range map[string]string{
		"no header":        "",
		"missing column":   "volet,template_root,format_code\nX,1.2.3,urn:x\n",
		"bad status":       header + "X,1.2.3,,urn:x,1.2.4,X,retired,\n",
		"root not an OID":  header + "X,abc,,urn:x,1.2.4,X,active,\n",
		"no code":          header + "X,1.2.3,,,1.2.4,X,active,\n",
		"duplicate":        header + "X,1.2.3,,urn:x,1.2.4,X,active,\nY,1.2.3,,urn:y,1.2.4,Y,active,\n",
		"no row":           header,
		"unbalanced quote": header + "X,\"1.2.3,,urn:x,1.2.4,X,active,\n",
	} {
		if _, err := LoadFormats(strings.NewReader(body)); carnet.ErrorKind(err) != carnet.KindInvalid {
			t.Errorf("%s: err = %v, want KindInvalid", name, err)
		}
	}
	big := strings.NewReader(header + strings.Repeat("#", MaxFormatTableBytes))
	if _, err := LoadFormats(big); carnet.ErrorKind(err) != carnet.KindTooLarge {
		t.Errorf("oversized table: err = %v, want KindTooLarge", err)
	}
}

// FuzzLoadFormats: the table loader never panics, and a table it accepts
// answers Match and Known for any document.
func FuzzLoadFormats(f *testing.F) {
	if b, err := os.ReadFile(formatsPath); err == nil {
		f.Add(b)
	}
	f.Add([]byte("volet,template_root,template_extension,format_code,format_system,format_display,status,source\nX,1.2.3,,urn:x,1.2.4,X,active,an alias\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := LoadFormats(bytes.NewReader(b))
		if err != nil {
			if k := carnet.ErrorKind(err); k != carnet.KindInvalid && k != carnet.KindTooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		for _, r := range ft.Rows() {
			m := ft.Match(doc(LevelN3, "", templateCISISHead, r.Root+"/"+r.Extension))
			if m.How == FormatNone {
				t.Fatalf("row %+v matches nothing", r)
			}
			ft.Known(r.Code)
		}
	})
}
