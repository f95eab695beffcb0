package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/synth"
)

// demoOptions is the demo dataset (synth.DemoOptions).
var demoOptions = synth.DemoOptions

// demoActor files the demo documents.
var demoActor = carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "demo-loader"}, Name: "Carnet demo loader"}

// loadDemo files the synthetic demo dataset through the Service, as a
// producing system would, unless it is already there. It returns the
// number of documents filed.
func loadDemo(ctx context.Context, svc *record.Service, logger *slog.Logger, patients int) (int, error) {
	o := demoOptions
	if patients > 0 {
		o.Patients = patients // the first patients are the same whatever the size
	}
	ds := synth.Generate(o)
	req := carnet.Request{Actor: demoActor, Mode: carnet.ModeNormal, RequestID: "demo-load"}
	// The loader is a producing system: it feeds identities and files, and
	// may not read. A first patient already there means the data is.
	for i, p := range ds.Patients {
		_, created, err := svc.PutPatient(ctx, req, p.INS, p.Identity)
		if err != nil {
			return 0, fmt.Errorf("demo patient %d: %w", p.Index, err)
		}
		if i == 0 && !created {
			logger.Info("demo data already present")
			return 0, nil
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
		// The loader files as each document's producing software would: for
		// the authors of its organisation.
		req := req
		req.Actor.Orgs = nil
		for _, a := range d.Meta.Authors {
			if a.OrgID.Value != "" {
				req.Actor.Orgs = append(req.Actor.Orgs, a.OrgID)
			}
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
	flags := ""
	if url != defaultURL {
		flags = " --url " + url
	}
	fmt.Fprintf(w, `
Demo mode: synthetic data only (test INS, OID 1.2.250.1.213.1.4.10). Never put real data here.
A built-in identity provider signs tokens for the demo users (demo only; never enabled otherwise):
`)
	group := ""
	for _, u := range auth.DemoUsers() {
		if u.Group != group {
			group = u.Group
			fmt.Fprintf(w, "  %s\n", group)
		}
		fmt.Fprintf(w, "    %-9s %s\n", u.Name, u.Label)
	}
	fmt.Fprintf(w, `
Web spaces (patients, professionals): open %[1]s/ in a browser and choose "Se connecter".

Try (from the repository; with the binary, "carnet" for "go run ./cmd/carnet"):
  curl -s %[1]s/metadata
  TOKEN=$(go run ./cmd/carnet token --user gp%[2]s)
`, url, flags)
	for i, p := range ds.Patients[:min(len(ds.Patients), 4)] {
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/DocumentReference?patient.identifier=%s|%s&status=current'   # patient%d, %s %s\n",
			url, p.INS.System, p.INS.Value, i, firstOf(p.Identity.Given), p.Identity.Family)
	}
	fmt.Fprintf(w, `
  As a patient:   TOKEN=$(go run ./cmd/carnet token --user patient0%[2]s); curl -s -H "Authorization: Bearer $TOKEN" %[1]s/Communication
  Emergency (SAMU, centre 15): TOKEN=$(go run ./cmd/carnet token --user samu%[2]s) and add -H 'X-Purpose-Of-Use: ETREAT'
  Bris de glace: -H 'X-Purpose-Of-Use: BTG' -H 'X-Access-Reason: patient%%20inconscient'
  XDS.b (SOAP) with an IHE XUA assertion for a demo professional (docs/XDS.md, "Authentication"):
    curl -s '%[1]s/demo-idp/xua?user=gp&patient=INS'   # a signed wsse:Security header, for %[1]s/xds/registry with lgc's token

`, url, flags)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
