package secondary

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	var s Scrubber
	s.Add("DURAND", "MARIE HELENE", "Strasbourg")
	s.AddIdentifier("254036938312325", "tel:0618553268")
	for _, tc := range []struct{ in, gone string }{
		{"Patiente Marie Durand, vue le 12/03/2024.", "marie durand 12/03"},
		{"Mme Hélène DURAND", "hélène durand"},
		{"INS 254036938312325 et 2 54 03 69 383 123", "254036938312325 383"},
		{"tél. 06 18 55 32 68 ou 06.12.34.56.78", "06 18 06.12"},
		{"domiciliée 12 rue du Canari Jaune, à Strasbourg", "canari jaune strasbourg"},
		{"vue par le Dr Zorglub. Adressée par Pr Jean-Luc Tournesol", "zorglub tournesol jean-luc"},
		{"courriel marie.kanari@exemple.fr", "kanari exemple"},
	} {
		got := strings.ToLower(s.Scrub(tc.in))
		for _, w := range strings.Fields(tc.gone) {
			if strings.Contains(got, w) {
				t.Errorf("Scrub(%q) = %q: %q left", tc.in, got, w)
			}
		}
	}
	// What identifies no one stays: results and their units.
	if got := s.Scrub("Créatinine : 23.4 mg/L (H), tension 120 / 80"); !strings.Contains(got, "23.4 mg/L") || !strings.Contains(got, "120 / 80") {
		t.Errorf("Scrub removed clinical values: %q", got)
	}
}
