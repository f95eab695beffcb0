package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/fulltext"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/cputime"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/policy"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/synth"
)

// benchPastille is the relevance benchmark (docs/PASTILLE.md): nDCG@10 of
// Carnet's ranking and of the reverse-chronological list on the graded
// scenarios, side by side, then the card's server time for a patient with
// --docs documents in a real store (SQLite in a temporary directory, or
// --postgres), every access decided and audited as when served.
func benchPastille(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench pastille", stderr)
	dir := fs.String("scenarios", "pastille/testdata/scenarios", "directory of the graded scenarios")
	docs := fs.Int("docs", 2000, "documents of the patient whose card is timed (0: skip the timing)")
	calls := fs.Int("calls", 200, "cards computed for the timing")
	pg := fs.String("postgres", "", "time on PostgreSQL (an empty database or schema) instead of a temporary SQLite file")
	if err := fs.parse(args); err != nil {
		return err
	}
	scenarios, err := pastille.LoadScenarios(*dir)
	if err != nil {
		return err
	}
	if len(scenarios) == 0 {
		return fmt.Errorf("no scenario (*.json) in %s: run from the repository's root, or give --scenarios DIR (the graded scenarios are pastille/testdata/scenarios)", *dir)
	}
	fmt.Fprintf(stdout, "nDCG@10 on %d scenarios graded blind to the ranking (%s)\n\n", len(scenarios), *dir)
	fmt.Fprintf(stdout, "carnet: the ranking given every field; served: as the server ranks, on clear fields and\nblind tokens only (no title, no author names); chrono: newest filed first\n\n")
	fmt.Fprintf(stdout, "%-52s %-26s %7s %7s %7s\n", "scenario", "query", "carnet", "served", "chrono")
	var sc, sb, ss float64
	res := pastille.Evaluate(scenarios)
	for _, r := range res {
		q := r.Query
		if q == "" {
			q = "(card)"
		}
		fmt.Fprintf(stdout, "%-52s %-26s %7.3f %7.3f %7.3f\n", r.Scenario, q, r.Carnet, r.Served, r.Chronological)
		sc += r.Carnet
		sb += r.Chronological
		ss += r.Served
	}
	n := float64(len(res))
	fmt.Fprintf(stdout, "%-52s %-26s %7.3f %7.3f %7.3f\n\n", "mean", "", sc/n, ss/n, sb/n)
	// Per role: every profession served, not the mean only. The card
	// ranking (the scenario's own grades) first, then card and queries.
	var cards []pastille.Result
	for _, r := range res {
		if r.Query == "" {
			cards = append(cards, r)
		}
	}
	for _, set := range []struct {
		name string
		res  []pastille.Result
	}{{"card", cards}, {"card and queries", res}} {
		fmt.Fprintf(stdout, "nDCG@10 by role (%s)\n%-28s %8s %7s %7s %7s\n", set.name, "role", "rankings", "carnet", "served", "chrono")
		for _, m := range pastille.ByRole(set.res) {
			role := m.Role
			if role == "" {
				role = "moyenne"
			}
			fmt.Fprintf(stdout, "%-28s %8d %7.3f %7.3f %7.3f\n", role, m.N, m.Carnet, m.Served, m.Chronological)
		}
		fmt.Fprintln(stdout)
	}
	if *docs <= 0 {
		return nil
	}
	return timeCard(ctx, *docs, *calls, *pg, stdout)
}

func timeCard(ctx context.Context, docs, calls int, dsn string, stdout io.Writer) error {
	tmp, err := os.MkdirTemp("", "carnet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, _, err := openStore(ctx, serverConfig{Data: tmp, Postgres: dsn, InitKey: true}, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	kr, err := seal.LoadOrCreateKeyFile(filepath.Join(tmp, seal.KeyFileName), true)
	if err != nil {
		return err
	}
	sealer := seal.New(kr, seal.StoreKeys(store))
	audit, err := auditlog.OpenDeployment(ctx, store, sealer, tmp, "bench.local/carnet-audit", true, carnet.SystemClock{})
	if err != nil {
		return err
	}
	defer audit.Close()
	newService := func() *record.Service {
		return &record.Service{Store: store, Sealer: sealer, Policy: &policy.Engine{Matrix: &policy.Matrix{}}, Audit: audit.Recorder,
			Clock: carnet.SystemClock{}, Extractor: qedm.Extractor{}, Index: fulltext.Indexer{}, Concepts: pastille.ConceptReader{}, WarmOnChange: true, Logger: logger, AllowTestINS: true}
	}
	svc := newService()

	o := synth.Options{Seed: 71, Patients: 1, DocsPerPatient: docs}
	pats, pros := o.People()
	var gp carnet.Actor
	var gpAuthor carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gpAuthor = p.Author
			gp = carnet.Actor{Kind: carnet.ActorProfessional, ID: p.Author.ID, Name: "bench GP", Profession: p.Author.Profession.Code, Specialty: p.Author.Specialty.Code}
		}
	}
	system := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "bench"}}}
	start := time.Now()
	var batch []carnet.SubmittedDocument
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		batch[0].Meta.Authors = append(batch[0].Meta.Authors, gpAuthor) // the GP is in the care team
		sub := carnet.Submission{Patient: pats[0].INS, Set: carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}, Documents: batch}
		// Filed as software acting for the authors' organisations (a
		// regional platform, say), as the write rules want.
		req := system
		for _, d := range batch {
			for _, a := range d.Meta.Authors {
				req.Actor.Orgs = append(req.Actor.Orgs, a.OrgID)
			}
		}
		_, err := svc.Provide(ctx, req, sub)
		batch = nil
		return err
	}
	err = o.EachDocument(func(d synth.Document) error {
		batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "bench"})
		if len(batch) == 50 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "card of a patient with %d documents (%s; filed in %s)\n", docs, map[bool]string{true: "PostgreSQL", false: "SQLite"}[dsn != ""], time.Since(start).Round(time.Second))
	card := func() (time.Duration, error) {
		return cardOf(ctx, svc, gp, pats[0].INS)
	}
	// The server reads a record's view again after each filing
	// (WarmOnChange) and stores its point-of-care form: a clinician
	// opening it a moment later finds it warm.
	time.Sleep(time.Second)
	svc.FlushCareForms()
	warm, err := card()
	if err != nil {
		return err
	}
	// After a restart nothing is in memory: a new Service on the same
	// store, whose first opening reads the record's stored form. Each
	// cold card is another restart.
	colds := max(min(calls, 50), 1)
	cold := make([]time.Duration, 0, colds)
	var coldCPU time.Duration
	for range colds {
		s := newService()
		c0 := cputime.Process()
		d, err := cardOf(ctx, s, gp, pats[0].INS)
		if err != nil {
			return err
		}
		coldCPU += cputime.Process() - c0
		cold = append(cold, d)
		s.FlushCareForms()
	}
	lat := make([]time.Duration, 0, calls)
	c0 := cputime.Process()
	for range calls {
		d, err := card()
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	warmCPU := cputime.Process() - c0
	slices.Sort(lat)
	slices.Sort(cold)
	fmt.Fprintf(stdout, "  first opening after the filings (the view kept warm on filing): %s\n", pct([]time.Duration{warm}, 50))
	fmt.Fprintf(stdout, "  first opening after a restart (the record's stored form read), %d restarts: p50 %s, p99 %s, CPU %s per card\n",
		colds, pct(cold, 50), pct(cold, 99), perCall(coldCPU, colds))
	fmt.Fprintf(stdout, "  next openings, %d cards: p50 %s, p99 %s, CPU %s per card (decided, ranked, top 5 opened, visit and access recorded)\n",
		calls, pct(lat, 50), pct(lat, 99), perCall(warmCPU, calls))
	return nil
}

func perCall(d time.Duration, n int) string {
	if d == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000/float64(n))
}

// cardOf times one card of the patient for the professional, as served.
func cardOf(ctx context.Context, svc *record.Service, gp carnet.Actor, ins carnet.Identifier) (time.Duration, error) {
	t0 := time.Now()
	{
		var in pastille.Input
		var ranked []pastille.Ranked
		_, _, err := svc.PointOfCare(ctx, carnet.Request{Actor: gp, RequestID: "bench"}, "", ins, "", true, func(v carnet.CareView) []string {
			in = httpapi.CareInput(gp, v, time.Time{})
			ranked = pastille.Rank(in)
			ids := []string{}
			for _, r := range ranked[:min(5, len(ranked))] {
				ids = append(ids, r.Doc.ID)
			}
			return ids
		})
		pastille.Summarize(in, ranked, "https://carnet.local/relevant")
		return time.Since(t0), err
	}
}
