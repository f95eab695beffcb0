package web

import (
	"archive/zip"
	"encoding/json"
	"net/http"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/qedm"
)

// exportKinds are the extracted items put in the archive.
var exportKinds = carnet.ItemKinds

const exportReadme = `Carnet — toutes vos données

Cette archive contient tout ce que votre dossier médical partagé vous montre,
à la date de son téléchargement :

- documents/ : chaque document, tel que le professionnel ou l'établissement
  l'a déposé (le plus souvent un document CDA R2, lisible par les logiciels
  de santé ; certains contiennent un PDF) ;
- metadonnees.json : la description de chaque document (type, date, auteur,
  confidentialité) au format FHIR R4 (Bundle de DocumentReference) ;
- donnees-extraites.json : les données structurées tirées de vos documents
  (résultats d'analyses, traitements prescrits, pris ou délivrés,
  vaccinations, allergies, problèmes de santé, actes) au format FHIR R4,
  chacune rattachée à son document d'origine.

Ce téléchargement figure dans l'historique des accès à votre dossier.
Gardez cette archive en lieu sûr : elle contient des données de santé.
`

// patientExport streams one zip of every document the caller may see, its
// metadata as FHIR DocumentReference and the extracted items as FHIR. Every
// read goes through the Service and is audited; the archive is built before
// nothing but its header is sent, so that an error shows a page.
func (s *Server) patientExport(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	base := s.base(r)
	id := c.req.Actor.ID
	var docs []carnet.Document
	for cursor := ""; ; {
		page, err := s.svc.FindDocuments(ctx, c.req, carnet.DocumentSearch{PatientID: id, Count: 200, Page: cursor})
		if err != nil {
			return err
		}
		docs = append(docs, page.Items...)
		if page.Next == "" || len(page.Items) == 0 {
			break
		}
		cursor = page.Next
	}
	var items []carnet.Item
	for _, k := range exportKinds {
		for cursor := ""; ; {
			page, err := s.svc.FindItems(ctx, c.req, carnet.ItemQuery{PatientID: id, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{k}},
				Count: 200, Page: cursor})
			if err != nil {
				return err
			}
			items = append(items, page.Items...)
			if page.Next == "" || len(page.Items) == 0 {
				break
			}
			cursor = page.Next
		}
	}
	meta := fhir.Bundle{Type: "collection"}
	meta.ID = carnet.NewID()
	for _, d := range docs {
		raw, err := json.Marshal(mhd.DocumentReference(d, base))
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "export", err)
		}
		meta.Entry = append(meta.Entry, fhir.BundleEntry{FullURL: base + "/DocumentReference/" + mhd.FHIRID(d), Resource: raw})
	}
	extracted := fhir.Bundle{Type: "collection"}
	extracted.ID = carnet.NewID()
	for _, it := range items {
		raw, err := qedm.Serve(it, base)
		if err != nil {
			return err
		}
		extracted.Entry = append(extracted.Entry, fhir.BundleEntry{FullURL: base + "/" + string(it.Kind) + "/" + it.ID, Resource: raw})
		extracted.Entry = append(extracted.Entry, fhir.BundleEntry{FullURL: base + "/Provenance/prov-" + it.ID, Resource: qedm.Provenance(it, base)})
	}

	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="carnet-mes-donnees.zip"`)
	zw := zip.NewWriter(w)
	put := func(name string, b []byte) error {
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return err
	}
	if err := put("LISEZMOI.txt", []byte(exportReadme)); err != nil {
		return s.exportBroken(err)
	}
	for _, d := range docs {
		_, content, err := s.svc.Content(ctx, c.req, d.ContentID)
		if err != nil {
			// Headers are sent: the archive is cut short, and says so by
			// being invalid (no central directory).
			return s.exportBroken(err)
		}
		if err := put("documents/"+fileName(d), content); err != nil {
			return s.exportBroken(err)
		}
	}
	for name, b := range map[string]fhir.Bundle{"metadonnees.json": meta, "donnees-extraites.json": extracted} {
		raw, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return s.exportBroken(err)
		}
		if err := put(name, raw); err != nil {
			return s.exportBroken(err)
		}
	}
	if err := zw.Close(); err != nil {
		return s.exportBroken(err)
	}
	return nil
}

// exportBroken logs an export that failed after its first bytes were sent:
// nothing more can be told to the browser.
func (s *Server) exportBroken(err error) error {
	s.log.Error("export cut short", "err", err)
	return nil
}
