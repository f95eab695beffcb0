package record

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// plainSealer "seals" nothing and can refuse to open: enough to see what
// openDocumentShared does with what Open returns.
type plainSealer struct{ refuse bool }

func (plainSealer) Seal(_ context.Context, _ carnet.PatientKey, _ carnet.Binding, pt []byte) ([]byte, error) {
	return pt, nil
}

func (s plainSealer) Open(_ context.Context, _ carnet.PatientKey, _ carnet.Binding, ct []byte) ([]byte, error) {
	if s.refuse {
		return nil, errors.New("the record's key is gone")
	}
	return append([]byte(nil), ct...), nil
}

func (plainSealer) Token(_ context.Context, _ carnet.PatientKey, _, v string) (string, error) {
	return v, nil
}

func (plainSealer) IdentityToken(_, v string) (string, error) { return v, nil }

// The decoded metadata a search keeps is the decoding of the bytes opened
// now: a row whose sealed metadata changed under the same version id is
// decoded again, the row's own fields win, and a row that no longer opens
// (a shredded key) gives an error, not the kept value.
func TestOpenDocumentSharedFollowsTheBytes(t *testing.T) {
	ctx := context.Background()
	s := &Service{Sealer: plainSealer{}}
	row := func(title string) carnet.DocumentRow {
		d := carnet.Document{Meta: carnet.DocumentMeta{Title: title}}
		pt, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return carnet.DocumentRow{Patient: "p1", ID: "v1", LogicalID: "l1", Version: 1, Status: carnet.StatusCurrent, Sealed: pt}
	}
	for _, title := range []string{"first", "first", "second", "first"} {
		r := row(title)
		want, err := s.openDocument(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.openDocumentShared(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got.Meta.Title != title || got.Meta.Title != want.Meta.Title || got.ID != r.ID || got.Status != r.Status {
			t.Fatalf("opened %q (id %s, %s), want %q as openDocument gives", got.Meta.Title, got.ID, got.Status, title)
		}
	}
	r := row("first")
	r.Status = carnet.StatusArchived // changed in place: the row says so
	if got, _ := s.openDocumentShared(ctx, r); got.Status != carnet.StatusArchived {
		t.Errorf("status %s, want the row's archived", got.Status)
	}
	s.Sealer = plainSealer{refuse: true}
	if _, err := s.openDocumentShared(ctx, r); err == nil {
		t.Error("a document whose key is gone was served from the decoded copy")
	}
}
