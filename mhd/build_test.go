package mhd

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// ProvideBundle and ParseProvide are inverse: a submission written as a
// bundle reads back as itself.
func TestProvideBundleRoundTrip(t *testing.T) {
	want, _, err := ParseProvide(mustJSON(t, validBundle()), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	want.Changes = append(want.Changes,
		carnet.DocumentChange{DocumentID: "d9", Status: carnet.StatusArchived, AddLabels: []carnet.Coding{{System: SystemVisibility, Code: "INVISIBLE_PATIENT"}}, RemoveLabels: []string{"MASQUE_PS"}},
		carnet.DocumentChange{DocumentID: "d8", Status: carnet.StatusDeleted})
	body, err := json.Marshal(ProvideBundle(want))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(ProvideBundle(want)); string(again) != string(body) {
		t.Errorf("ProvideBundle is not deterministic")
	}
	got, m, err := ParseProvide(body, testOpts)
	if err != nil {
		t.Fatalf("ParseProvide(ProvideBundle(s)): %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	if len(m.Entries) != 1+2*len(want.Documents)+len(want.Changes) {
		t.Errorf("%d entries", len(m.Entries))
	}
	// The JSON kept as sent and the request paths naturally differ.
	clear := func(s *carnet.Submission) {
		s.Set.Original = nil
		for i := range s.Documents {
			d := &s.Documents[i]
			d.Meta.Original, d.Path = nil, ""
			d.Meta.SourcePatientRaw = nil
		}
		for i := range s.Changes {
			s.Changes[i].Path = ""
		}
	}
	clear(&got)
	clear(&want)
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("round trip differs:\ngot  %s\nwant %s", gj, wj)
	}
}

func TestProvideBundleFillsWhatASetLacks(t *testing.T) {
	s, _, err := ParseProvide(mustJSON(t, validBundle()), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	// What a producer's own model may not carry: Carnet's tools build
	// submissions like this one.
	s.Set.Date, s.Set.ContentType = time.Time{}, carnet.Coding{}
	for i := range s.Documents {
		s.Documents[i].FullURL = ""
		s.Documents[i].Meta.SHA1, s.Documents[i].Meta.Size = nil, 0
	}
	got, _, err := ParseProvide(mustJSON(t, ProvideBundle(s)), testOpts)
	if err != nil {
		t.Fatalf("ParseProvide: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	if want := time.Date(2024, 3, 15, 8, 30, 0, 0, time.UTC); !got.Set.Date.Equal(want) {
		t.Errorf("set date %v, want the latest creation %v", got.Set.Date, want)
	}
	if got.Set.ContentType != s.Documents[0].Meta.Type {
		t.Errorf("set contentType %+v, want the first document's type", got.Set.ContentType)
	}
	if got.Documents[0].Meta.Size != int64(len(cdaText)) || got.Documents[0].FullURL == "" {
		t.Errorf("document: size %d, fullUrl %q", got.Documents[0].Meta.Size, got.Documents[0].FullURL)
	}
}
