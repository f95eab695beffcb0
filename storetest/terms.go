package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// TermToken returns the stand-in blind token of word: 43 characters of
// base64url, the shape of the tokens the Service stores.
func TermToken(word string) string {
	h := sha256.Sum256([]byte("storetest-term:" + word))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Terms turns term frequencies by word into frequencies by token.
func Terms(words map[string]int) map[string]int {
	out := make(map[string]int, len(words))
	for w, n := range words {
		out[TermToken(w)] = n
	}
	return out
}

// NewTermFreqs returns n distinct terms, words "w<first>" to
// "w<first+n-1>", with frequencies from 1 to 7; Len is their sum.
func NewTermFreqs(first, n int) (tf map[string]int, length int) {
	tf = make(map[string]int, n)
	for i := range n {
		f := 1 + (first+i)%7
		tf[TermToken(fmt.Sprintf("w%d", first+i))] = f
		length += f
	}
	return tf, length
}

// posting is the posting of word in document id.
func posting(word, id string, tf, length int) carnet.Posting {
	return carnet.Posting{Token: TermToken(word), LogicalID: id, TF: tf, Len: length}
}

func tokensOf(words ...string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = TermToken(w)
	}
	return out
}

func comparePostings(a, b carnet.Posting) int {
	return cmp.Or(cmp.Compare(a.Token, b.Token), cmp.Compare(a.LogicalID, b.LogicalID))
}

// wantPostings checks that TermPostings(p, tokens) returns exactly want, in
// any order.
func wantPostings(t tb, r carnet.Reader, p carnet.PatientKey, tokens []string, want ...carnet.Posting) {
	t.Helper()
	got, err := r.TermPostings(context.Background(), p, tokens)
	if err != nil {
		t.Fatalf("TermPostings(%s, %d tokens): %v", p, len(tokens), err)
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, comparePostings)
	slices.SortFunc(want, comparePostings)
	if len(got) != len(want) {
		t.Fatalf("TermPostings(%s, %d tokens): got %d postings, want %d\ngot:  %v\nwant: %v",
			p, len(tokens), len(got), len(want), headOf(got), headOf(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("TermPostings(%s, %d tokens)[%d]: got %+v, want %+v", p, len(tokens), i, got[i], want[i])
		}
	}
}

func headOf(ps []carnet.Posting) []carnet.Posting { return ps[:min(len(ps), 5)] }

func wantTermStats(t tb, r carnet.Reader, p carnet.PatientKey, docs int, totalLen int64) {
	t.Helper()
	d, l, err := r.TermStats(context.Background(), p)
	if err != nil || d != docs || l != totalLen {
		t.Fatalf("TermStats(%s): got %d documents, total length %d, %v; want %d, %d", p, d, l, err, docs, totalLen)
	}
}

func putTerms(t *testing.T, s carnet.Store, p carnet.PatientKey, id string, length int, tf map[string]int) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutTerms(ctx, p, id, length, tf) })
}

func testTermsRoundTrip(t *testing.T, s carnet.Store) {
	// An empty patient has no postings and no statistics.
	wantPostings(t, s, "p1", tokensOf("fievre"))
	wantTermStats(t, s, "p1", 0, 0)

	// Tokens are opaque: any non-empty string round-trips.
	odd := "odd:ÉÈ|x\x00y"
	a := Terms(map[string]int{"fievre": 3, "toux": 1})
	a[odd] = 2
	putTerms(t, s, "p1", "doc-a", 6, a)
	// A length larger than the frequencies' sum: stop words count in it.
	putTerms(t, s, "p1", "doc-b", 40, Terms(map[string]int{"fievre": 1, "hba1c": 4}))
	// A document without terms, nil or empty, still counts.
	putTerms(t, s, "p1", "doc-empty", 0, nil)
	putTerms(t, s, "p1", "doc-stop", 12, map[string]int{})

	wantPostings(t, s, "p1", tokensOf("fievre"),
		posting("fievre", "doc-a", 3, 6), posting("fievre", "doc-b", 1, 40))
	wantPostings(t, s, "p1", append(tokensOf("toux", "hba1c", "absent"), odd),
		posting("toux", "doc-a", 1, 6), posting("hba1c", "doc-b", 4, 40),
		carnet.Posting{Token: odd, LogicalID: "doc-a", TF: 2, Len: 6})
	// A token named twice gives its postings once; no token, no posting.
	wantPostings(t, s, "p1", tokensOf("toux", "toux", "fievre", "toux"),
		posting("toux", "doc-a", 1, 6), posting("fievre", "doc-a", 3, 6), posting("fievre", "doc-b", 1, 40))
	wantPostings(t, s, "p1", nil)
	wantTermStats(t, s, "p1", 4, 6+40+0+12)
}

func testTermsReplace(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 2, "toux": 1}))
	putTerms(t, s, "p1", "doc-b", 5, Terms(map[string]int{"toux": 5}))

	// The second PutTerms replaces the first: a term gone, one changed,
	// one new, a new length.
	putTerms(t, s, "p1", "doc-a", 7, Terms(map[string]int{"toux": 5, "rhume": 2}))
	wantPostings(t, s, "p1", tokensOf("fievre", "toux", "rhume"),
		posting("toux", "doc-a", 5, 7), posting("rhume", "doc-a", 2, 7), posting("toux", "doc-b", 5, 5))
	wantTermStats(t, s, "p1", 2, 7+5)

	// The same terms with another length: only Len changes.
	putTerms(t, s, "p1", "doc-b", 6, Terms(map[string]int{"toux": 5}))
	wantPostings(t, s, "p1", tokensOf("toux"), posting("toux", "doc-a", 5, 7), posting("toux", "doc-b", 5, 6))
	putTerms(t, s, "p1", "doc-b", 5, Terms(map[string]int{"toux": 5}))

	// Replaced by nothing: no posting left, the document still counts.
	putTerms(t, s, "p1", "doc-a", 0, nil)
	wantPostings(t, s, "p1", tokensOf("fievre", "toux", "rhume"), posting("toux", "doc-b", 5, 5))
	wantTermStats(t, s, "p1", 2, 5)

	// Several replacements in one Update: the last one stays.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for i := 1; i <= 3; i++ {
			if err := tx.PutTerms(ctx, "p1", "doc-a", 10*i, Terms(map[string]int{"toux": i, fmt.Sprint("mot", i): 1})); err != nil {
				return err
			}
		}
		return nil
	})
	wantPostings(t, s, "p1", tokensOf("toux", "mot1", "mot2", "mot3"),
		posting("toux", "doc-a", 3, 30), posting("mot3", "doc-a", 1, 30), posting("toux", "doc-b", 5, 5))
	wantTermStats(t, s, "p1", 2, 35)
}

func testDeleteTerms(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 2, "toux": 1}))
	putTerms(t, s, "p1", "doc-b", 5, Terms(map[string]int{"toux": 5}))
	putTerms(t, s, "p1", "doc-empty", 4, nil)

	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.DeleteTerms(ctx, "p1", "doc-a") })
	wantPostings(t, s, "p1", tokensOf("fievre", "toux"), posting("toux", "doc-b", 5, 5))
	wantTermStats(t, s, "p1", 2, 9)

	// A document without terms is deleted too; nothing to delete is no error.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, id := range []string{"doc-empty", "doc-a", "doc-never-indexed"} {
			if err := tx.DeleteTerms(ctx, "p1", id); err != nil {
				return err
			}
		}
		return tx.DeleteTerms(ctx, "p-nobody", "doc-b")
	})
	wantPostings(t, s, "p1", tokensOf("fievre", "toux"), posting("toux", "doc-b", 5, 5))
	wantTermStats(t, s, "p1", 1, 5)

	// A deleted document may be indexed again.
	putTerms(t, s, "p1", "doc-a", 1, Terms(map[string]int{"fievre": 1}))
	wantPostings(t, s, "p1", tokensOf("fievre"), posting("fievre", "doc-a", 1, 1))
	wantTermStats(t, s, "p1", 2, 6)
}

func testTermsPatientIsolation(t *testing.T, s carnet.Store) {
	// Same document id, same tokens, under two patients.
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 3}))
	putTerms(t, s, "p2", "doc-a", 8, Terms(map[string]int{"fievre": 1, "toux": 2}))
	putTerms(t, s, "p2", "doc-b", 2, Terms(map[string]int{"toux": 2}))

	wantPostings(t, s, "p1", tokensOf("fievre", "toux"), posting("fievre", "doc-a", 3, 3))
	wantPostings(t, s, "p2", tokensOf("fievre", "toux"),
		posting("fievre", "doc-a", 1, 8), posting("toux", "doc-a", 2, 8), posting("toux", "doc-b", 2, 2))
	wantPostings(t, s, "p3", tokensOf("fievre", "toux"))
	wantTermStats(t, s, "p1", 1, 3)
	wantTermStats(t, s, "p2", 2, 10)
	wantTermStats(t, s, "p3", 0, 0)

	// Replacing or deleting p2's doc-a leaves p1's alone.
	putTerms(t, s, "p2", "doc-a", 1, Terms(map[string]int{"rhume": 1}))
	wantPostings(t, s, "p1", tokensOf("fievre", "rhume"), posting("fievre", "doc-a", 3, 3))
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.DeleteTerms(ctx, "p2", "doc-a") })
	wantPostings(t, s, "p1", tokensOf("fievre", "rhume"), posting("fievre", "doc-a", 3, 3))
	wantTermStats(t, s, "p1", 1, 3)
	wantTermStats(t, s, "p2", 1, 2)
}

func testTermsInUpdate(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 3}))
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.PutTerms(ctx, "p1", "doc-b", 4, Terms(map[string]int{"fievre": 1, "toux": 3})); err != nil {
			return err
		}
		if err := tx.DeleteTerms(ctx, "p1", "doc-a"); err != nil {
			return err
		}
		return checkIn(func(t tb) {
			// The tx reads its own writes…
			wantPostings(t, tx, "p1", tokensOf("fievre", "toux"),
				posting("fievre", "doc-b", 1, 4), posting("toux", "doc-b", 3, 4))
			wantTermStats(t, tx, "p1", 1, 4)
			// …which nobody else sees before the commit.
			wantPostings(t, s, "p1", tokensOf("fievre", "toux"), posting("fievre", "doc-a", 3, 3))
			wantTermStats(t, s, "p1", 1, 3)
		})
	})
	wantPostings(t, s, "p1", tokensOf("fievre", "toux"),
		posting("fievre", "doc-b", 1, 4), posting("toux", "doc-b", 3, 4))
	wantTermStats(t, s, "p1", 1, 4)
}

func testTermsRollBack(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 3}))
	putTerms(t, s, "p1", "doc-b", 2, Terms(map[string]int{"toux": 2}))
	big, bigLen := NewTermFreqs(0, 500)
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.PutTerms(ctx, "p1", "doc-a", 9, Terms(map[string]int{"rhume": 9})); err != nil {
			return err
		}
		if err := tx.DeleteTerms(ctx, "p1", "doc-b"); err != nil {
			return err
		}
		if err := tx.PutTerms(ctx, "p1", "doc-c", bigLen, big); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: got error %v, want fn's error", err)
	}
	wantPostings(t, s, "p1", tokensOf("fievre", "toux", "rhume", "w0"),
		posting("fievre", "doc-a", 3, 3), posting("toux", "doc-b", 2, 2))
	wantTermStats(t, s, "p1", 2, 5)
}

func testTermsInvalid(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 3}))
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		return checkIn(func(t tb) {
			for _, c := range []struct {
				name   string
				id     string
				length int
				tf     map[string]int
			}{
				{"empty logical id", "", 1, Terms(map[string]int{"toux": 1})},
				{"negative length", "doc-a", -1, Terms(map[string]int{"toux": 1})},
				{"zero tf", "doc-a", 2, Terms(map[string]int{"toux": 1, "rhume": 0})},
				{"negative tf", "doc-a", 2, Terms(map[string]int{"toux": -1})},
				{"empty token", "doc-a", 2, map[string]int{TermToken("toux"): 1, "": 1}},
			} {
				err := tx.PutTerms(ctx, "p1", c.id, c.length, c.tf)
				wantKind(t, err, carnet.KindInvalid, "PutTerms with "+c.name)
			}
			wantKind(t, tx.DeleteTerms(ctx, "p1", ""), carnet.KindInvalid, "DeleteTerms with an empty logical id")
			// Nothing of the refused calls was written, and the tx goes on.
			wantPostings(t, tx, "p1", tokensOf("fievre", "toux", "rhume"), posting("fievre", "doc-a", 3, 3))
			if err := tx.PutTerms(ctx, "p1", "doc-b", 1, Terms(map[string]int{"toux": 1})); err != nil {
				t.Fatalf("PutTerms after refused calls: %v", err)
			}
		})
	})
	wantPostings(t, s, "p1", tokensOf("fievre", "toux", "rhume"),
		posting("fievre", "doc-a", 3, 3), posting("toux", "doc-b", 1, 1))
	wantTermStats(t, s, "p1", 2, 4)
}

// testTermsLargeDocument indexes documents of 2,000 distinct terms, as a
// long discharge letter has.
func testTermsLargeDocument(t *testing.T, s carnet.Store) {
	const n = 2000
	tf, length := NewTermFreqs(0, n)
	putTerms(t, s, "p1", "doc-long", length, tf)
	putTerms(t, s, "p1", "doc-short", 2, Terms(map[string]int{"w1999": 2}))

	all := make([]string, 0, n)
	want := make([]carnet.Posting, 0, n+1)
	for tok, f := range tf {
		all = append(all, tok)
		want = append(want, carnet.Posting{Token: tok, LogicalID: "doc-long", TF: f, Len: length})
	}
	wantPostings(t, s, "p1", all, append(want, posting("w1999", "doc-short", 2, 2))...)
	wantTermStats(t, s, "p1", 2, int64(length)+2)

	// Replaced by another 2,000 terms, half of them shared.
	tf2, length2 := NewTermFreqs(n/2, n)
	putTerms(t, s, "p1", "doc-long", length2, tf2)
	want = want[:0]
	for tok, f := range tf2 {
		want = append(want, carnet.Posting{Token: tok, LogicalID: "doc-long", TF: f, Len: length2})
	}
	wantPostings(t, s, "p1", all, append(slices.DeleteFunc(want, func(p carnet.Posting) bool { return tf[p.Token] == 0 }),
		posting("w1999", "doc-short", 2, 2))...)
	wantPostings(t, s, "p1", tokensOf("w0", "w999", "w1000", "w2999", "w3000"),
		posting("w1000", "doc-long", tf2[TermToken("w1000")], length2),
		posting("w2999", "doc-long", tf2[TermToken("w2999")], length2))
	wantTermStats(t, s, "p1", 2, int64(length2)+2)
}

func testTermsContextCanceled(t *testing.T, s carnet.Store) {
	putTerms(t, s, "p1", "doc-a", 3, Terms(map[string]int{"fievre": 3}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.TermPostings(ctx, "p1", tokensOf("fievre")); err == nil {
		t.Errorf("TermPostings with a canceled context: got nil error")
	}
	if _, _, err := s.TermStats(ctx, "p1"); err == nil {
		t.Errorf("TermStats with a canceled context: got nil error")
	}
	err := s.Update(ctx, func(tx carnet.Tx) error {
		if err := tx.PutTerms(ctx, "p1", "doc-a", 1, Terms(map[string]int{"toux": 1})); err != nil {
			return err
		}
		return tx.DeleteTerms(ctx, "p1", "doc-a")
	})
	if err == nil {
		t.Errorf("Update with a canceled context: got nil error")
	}
	wantPostings(t, s, "p1", tokensOf("fievre", "toux"), posting("fievre", "doc-a", 3, 3))
	wantTermStats(t, s, "p1", 1, 3)
}

// BenchPutTerms measures PutTerms of documents of n distinct terms in a
// patient whose record already indexes 100 such documents: "new" indexes
// another document, "replace" re-indexes one with other terms (its n old
// postings go), "same" re-indexes one with its own terms. Each op is one
// Update; ms/PutTerms is the call alone, without the commit.
func BenchPutTerms(b *testing.B, s carnet.Store, n int) {
	const (
		p        = carnet.PatientKey("p-bench")
		existing = 100
	)
	ctx := context.Background()
	put := func(b *testing.B, id string, first int) time.Duration {
		tf, length := NewTermFreqs(first, n)
		var took time.Duration
		MustUpdate(b, s, func(tx carnet.Tx) error {
			start := time.Now()
			err := tx.PutTerms(ctx, p, id, length, tf)
			took = time.Since(start)
			return err
		})
		return took
	}
	for i := range existing {
		put(b, fmt.Sprintf("doc-%d", i), i*n/4) // neighbours share three quarters of their terms
	}
	run := func(b *testing.B, doc func(i int) (id string, first int)) {
		var total time.Duration
		i := 0
		for b.Loop() {
			id, first := doc(i)
			total += put(b, id, first)
			i++
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(i), "ms/PutTerms")
	}
	next := existing // the next document's first term
	b.Run("new", func(b *testing.B) {
		run(b, func(i int) (string, int) { next++; return fmt.Sprintf("doc-new-%d", next), next * n / 4 })
	})
	// The same terms again, as when a document is re-indexed unchanged.
	b.Run("same", func(b *testing.B) {
		run(b, func(i int) (string, int) { return fmt.Sprintf("doc-%d", i%existing), i % existing * n / 4 })
	})
	b.Run("replace", func(b *testing.B) {
		run(b, func(i int) (string, int) { next++; return fmt.Sprintf("doc-%d", i%existing), next * n / 4 })
	})
}
