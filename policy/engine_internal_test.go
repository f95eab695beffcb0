package policy

import "testing"

// A label is named by its code or by "system|code"; nothing else matches.
func TestLabelIs(t *testing.T) {
	for _, c := range []struct {
		v, code string
		want    bool
	}{
		{"MASQUE_PS", "MASQUE_PS", true},
		{"1.2.250.1.213.1.1.4.13|MASQUE_PS", "MASQUE_PS", true},
		{"1.2.250.1.213.1.1.4.13|XMASQUE_PS", "MASQUE_PS", false},
		{"MASQUE_PS2", "MASQUE_PS", false},
		{"|MASQUE_PS", "MASQUE_PS", true},
		{"ASQUE_PS", "MASQUE_PS", false},
		{"", "MASQUE_PS", false},
		{"N", "N", true},
		{"x|N", "N", true},
		{"xN", "N", false},
	} {
		if got := labelIs(c.v, c.code); got != c.want {
			t.Errorf("labelIs(%q, %q) = %v, want %v", c.v, c.code, got, c.want)
		}
	}
}
