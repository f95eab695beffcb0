package main

import (
	"fmt"
	"log/slog"

	"github.com/carnet-sante/carnet/cda"
)

// loadFormats reads the CI-SIS volet table the operator named. Without
// it Carnet derives no formatCode from a CDA (there is no built-in
// table to fall back on): ITI-106 refuses such documents and ITI-65/105
// producers declare content.format, and the server says so at start.
func loadFormats(c serverConfig, logger *slog.Logger) (*cda.FormatTable, error) {
	if c.CISISFormats == "" {
		logger.Warn("no --ci-sis-formats table: the formatCode of a structured CDA document is NOT derived from its templateIds; ITI-106 refuses them and producers must declare content.format (unstructured N1 documents get IHE XDS-SD codes)")
		return nil, nil
	}
	t, err := cda.LoadFormatsFile(c.CISISFormats)
	if err != nil {
		return nil, fmt.Errorf("load the CI-SIS format table: %w", err)
	}
	logger.Info("CI-SIS format table loaded", "file", c.CISISFormats, "rows", len(t.Rows()))
	return t, nil
}
