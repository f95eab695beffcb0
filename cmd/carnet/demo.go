package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/synth"
)

// demoOptions is the demo dataset: small enough to load in seconds, large
// enough to show paging, several kinds of documents and several authors.
var demoOptions = synth.Options{Seed: 2024, Patients: 20, DocsPerPatient: 15}

// demoActor files the demo documents.
var demoActor = carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "demo-loader"}, Name: "Carnet demo loader"}

// loadDemo files the synthetic demo dataset through the Service, as a
// producing system would, unless it is already there. It returns the
// number of documents filed.
func loadDemo(ctx context.Context, svc *carnet.Service, logger *slog.Logger) (int, error) {
	ds := synth.Generate(demoOptions)
	req := carnet.Request{Actor: demoActor, Mode: carnet.ModeNormal, RequestID: "demo-load"}
	if _, err := svc.PatientByINS(ctx, req, ds.Patients[0].INS); err == nil {
		logger.Info("demo data already present")
		return 0, nil
	} else if !carnet.IsKind(err, carnet.KindNotFound) {
		return 0, err
	}
	for _, p := range ds.Patients {
		if _, _, err := svc.PutPatient(ctx, req, p.INS, p.Identity); err != nil {
			return 0, fmt.Errorf("demo patient %d: %w", p.Index, err)
		}
	}
	n := 0
	for i, d := range ds.Documents {
		p := ds.Patients[d.Patient]
		sub := carnet.Submission{
			Patient: p.INS,
			Set: carnet.SubmissionSet{
				UniqueID: fmt.Sprintf("%s.set", d.UniqueID),
				SourceID: "1.2.250.1.999.2",
				Title:    d.Meta.Title,
				Authors:  d.Meta.Authors,
				// contentTypeCode: what the submission is about; the demo files one document a set.
				ContentType: d.Meta.Type,
			},
			Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: fmt.Sprintf("demo.document[%d]", i)}},
		}
		if _, err := svc.Provide(ctx, req, sub); err != nil {
			return n, fmt.Errorf("demo document %d: %w", i, err)
		}
		n++
	}
	return n, nil
}

func printDemoHelp(w io.Writer, url string) {
	ds := synth.Generate(demoOptions)
	fmt.Fprintf(w, `
Demo mode: synthetic data only (test INS, OID 1.2.250.1.213.1.4.10). Never put real data here.
Authentication is not wired yet: every request acts as an anonymous system and
the access policy permits everything (OIDC and the DMP access rules come next).

Try:
  curl -s %s/metadata
`, url)
	for _, p := range ds.Patients[:3] {
		fmt.Fprintf(w, "  curl -s '%s/DocumentReference?patient.identifier=%s|%s&status=current'   # %s %s\n",
			url, p.INS.System, p.INS.Value, firstOf(p.Identity.Given), p.Identity.Family)
	}
	fmt.Fprintln(w)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
