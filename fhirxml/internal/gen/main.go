// Command gen writes fhirxml's table of FHIR R4 types (r4.txt) from the
// StructureDefinitions of the npm package hl7.fhir.r4.examples 4.0.1 (see
// package r4gen). Run through go generate in fhirxml after `npm ci` at the
// repository's root.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/carnet-sante/carnet/fhirxml/internal/r4gen"
)

func main() {
	dir := flag.String("pkg", "../node_modules/hl7.fhir.r4.examples", "folder of the hl7.fhir.r4.examples npm package")
	out := flag.String("out", "r4.txt", "table to write")
	flag.Parse()
	b, err := r4gen.Table(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
