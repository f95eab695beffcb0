package fulltext

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func docs(hits []Hit) []string {
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.Doc)
	}
	return ids
}

// record is a small patient record: what a clinician searches in.
func record() *Index {
	var ix Index
	ix.Add("cr-cardio", "Compte rendu de consultation : le patient présente des insuffisances cardiaques à répétition, sous furosémide.")
	ix.Add("bio-nfs", "Numération formule sanguine : hémoglobine 11,4 g/dL, plaquettes 212 G/L.")
	ix.Add("ordonnance", "Ordonnance : paracétamol 1 g trois fois par jour pendant cinq jours.")
	ix.Add("vaccin", "Vaccination contre la grippe saisonnière, lot 4521, deltoïde gauche.")
	return &ix
}

func TestSearchIssueChecks(t *testing.T) {
	ix := record()
	tests := []struct {
		query string
		want  []string
	}{
		{"insuffisance cardiaque", []string{"cr-cardio"}},
		{"hemoglobine", []string{"bio-nfs"}},
		{"HÉMOGLOBINE", []string{"bio-nfs"}},
		{"l'insuffisance", []string{"cr-cardio"}},
		{"grippe", []string{"vaccin"}},
		// Unrelated documents give no hit, and neither do stop words.
		{"fracture du col du fémur", nil},
		{"le la les de des du pour par sur", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := docs(ix.Search(tt.query)); !slices.Equal(got, tt.want) {
			t.Errorf("Search(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func TestSearchRanksShortRepeatedAboveLongSingle(t *testing.T) {
	var ix Index
	ix.Add("long", "Bilan : hémoglobine normale. "+strings.Repeat("Examen clinique sans particularité, tension artérielle correcte, auscultation normale. ", 30))
	ix.Add("short", "Anémie : hémoglobine basse, contrôle de l'hémoglobine à une semaine, transfusion si hémoglobine sous 7 g/dL.")
	ix.Add("other", "Radiographie du thorax normale.")
	hits := ix.Search("hémoglobine")
	if got, want := docs(hits), []string{"short", "long"}; !slices.Equal(got, want) {
		t.Fatalf("Search = %v, want %q", hits, want)
	}
	if !(hits[0].Score > hits[1].Score) {
		t.Errorf("scores %v, want the first strictly higher", hits)
	}
}

func TestSearchMoreQueryTermsMatchedRanksHigher(t *testing.T) {
	var ix Index
	ix.Add("a", "Douleur thoracique à l'effort.")
	ix.Add("b", "Douleur thoracique constrictive, troponine élevée.")
	ix.Add("c", "Troponine normale.")
	if got, want := docs(ix.Search("douleur thoracique troponine")), []string{"b", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("Search = %q, want %q", got, want)
	}
}

func TestSearchTiesByDocID(t *testing.T) {
	var ix Index
	for _, id := range []string{"doc-3", "doc-1", "doc-2"} {
		ix.Add(id, "fibrillation auriculaire")
	}
	ix.Add("doc-0", "autre chose")
	hits := ix.Search("fibrillation")
	if got, want := docs(hits), []string{"doc-1", "doc-2", "doc-3"}; !slices.Equal(got, want) {
		t.Errorf("Search = %q, want %q", got, want)
	}
	for _, h := range hits[1:] {
		if h.Score != hits[0].Score {
			t.Errorf("scores %v, want equal", hits)
		}
	}
}

func TestIndexAddReplacesAndRemove(t *testing.T) {
	ix := record()
	ix.Add("bio-nfs", "Glycémie à jeun 1,05 g/L.") // a corrected version
	if got := ix.Search("hémoglobine"); got != nil {
		t.Errorf("after replacing, Search(hémoglobine) = %v, want nothing", got)
	}
	if got, want := docs(ix.Search("glycémie")), []string{"bio-nfs"}; !slices.Equal(got, want) {
		t.Errorf("Search(glycémie) = %q, want %q", got, want)
	}
	ix.Remove("cr-cardio")
	ix.Remove("never-there")
	if got := ix.Search("insuffisance cardiaque"); got != nil {
		t.Errorf("after Remove, Search = %v, want nothing", got)
	}
	if got := ix.Len(); got != 3 {
		t.Errorf("Len = %d, want 3", got)
	}
	// Removing everything leaves an index that behaves like a new one.
	for _, id := range []string{"bio-nfs", "ordonnance", "vaccin"} {
		ix.Remove(id)
	}
	if ix.Len() != 0 || len(ix.postings) != 0 || ix.totalLen != 0 {
		t.Errorf("emptied index keeps %d docs, %d terms, length %d", ix.Len(), len(ix.postings), ix.totalLen)
	}
	var fresh Index
	if got := fresh.Search("grippe"); got != nil {
		t.Errorf("zero Index: Search = %v", got)
	}
}

func TestIndexConcurrentUse(t *testing.T) {
	var ix Index
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				id := fmt.Sprintf("doc-%d-%d", i, j)
				ix.Add(id, "hémoglobine glyquée à 7,2 %")
				ix.Search("hemoglobine")
				if j%2 == 0 {
					ix.Remove(id)
				}
			}
		})
	}
	wg.Wait()
	if got := len(ix.Search("hemoglobine")); got != 8*25 {
		t.Errorf("Search found %d documents, want %d", got, 8*25)
	}
}
