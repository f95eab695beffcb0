package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

var screenshots = flag.Bool("screenshots", false, "regenerate docs/screenshots/*.png (TestWebScreenshots)")

// TestWebScreenshots regenerates the README's screenshots of the main
// pages from a real `carnet serve --demo`:
//
//	go test ./cmd/carnet -run '^TestWebScreenshots$' -screenshots
func TestWebScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("screenshots are regenerated with -screenshots")
	}
	out := filepath.Join(testenv.ModuleRoot(t), "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	s, data := webServer(t, "sqlite")
	ins := synth.Generate(demoOptions).Patients[0].INS
	shot := func(tb *tab, name string, width, height int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	visitor := b.person(t, s.URL, false)
	visitor.open("/connexion")
	shot(visitor, "connexion-demo", 1280, 900)

	// What the patient will see: the GP's visit, an emergency access.
	gp := b.person(t, s.URL, false)
	gp.login("gp")
	gp.openRecord(ins, "ouvrir")
	dentist := b.person(t, s.URL, false)
	dentist.login("dentist")
	dentist.open("/pro")
	dentist.fill("#systeme", strings.TrimPrefix(ins.System, "urn:oid:"))
	dentist.fill("#ins", ins.Value)
	dentist.fill("#motif", "Patient inconscient au cabinet, recherche des traitements en cours")
	dentist.click(`button[value="urgence"]`)
	shot(dentist, "pro-bris-de-glace", 1280, 900)

	cardio := b.person(t, s.URL, false)
	cardio.login("cardio")
	cardio.openRecord(ins, "ouvrir")
	file(t, s, data, newDocuments(501, 3, ""))
	_, link := cardLink(t, s, data, "cardio", ins)
	cardio.open(strings.TrimPrefix(link, s.URL))
	shot(cardio, "pro-pastille", 1280, 1100)
	key := strings.TrimPrefix(cardio.path(), "/pro/dossier/")
	cardio.open("/pro/dossier/" + key + "/tendances")
	shot(cardio, "pro-tendances", 1280, 1100)

	pt := b.person(t, s.URL, false)
	pt.login("patient0")
	shot(pt, "patient-documents", 1280, 1000)
	pt.fill("#type", "11502-2")
	pt.click(`form.filtres button[type="submit"]`)
	pt.click(`ul.documents li h2 a`)
	shot(pt, "patient-document", 1280, 1100)
	pt.open("/patient/choix")
	shot(pt, "patient-choix", 1280, 1100)
	pt.open("/patient/historique")
	pt.verification()
	shot(pt, "patient-historique", 1280, 1000)
	pt.open("/patient/notifications")
	shot(pt, "patient-notifications-mobile", 390, 844)
}
