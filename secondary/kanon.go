package secondary

// QI are a record's quasi-identifiers as released: birth year, sex
// (FHIR gender), département. An unknown value is a value of its own.
type QI struct {
	BirthYear   string
	Sex         string
	Departement string
}

// Groups counts the records of each quasi-identifier group. Its size is
// bounded by the groups that exist (years × sexes × départements), not
// by the number of records.
type Groups map[QI]int

// Add counts one record.
func (g Groups) Add(q QI) { g[q]++ }

// Released reports whether q's group has at least k records.
func (g Groups) Released(q QI, k int) bool { return g[q] >= k }

// KReport says what k-anonymity suppressed. It gives counts only: the list
// of suppressed groups would name the rare people it protects.
type KReport struct {
	K                  int `json:"k"`
	RecordsReleased    int `json:"recordsReleased"`
	RecordsSuppressed  int `json:"recordsSuppressed"`
	GroupsReleased     int `json:"groupsReleased"`
	GroupsSuppressed   int `json:"groupsSuppressed"`
	SmallestGroupShown int `json:"smallestGroupReleased,omitempty"`
}

// Report is the suppression report of g at k.
func (g Groups) Report(k int) KReport {
	r := KReport{K: k}
	for _, n := range g {
		if n >= k {
			r.GroupsReleased++
			r.RecordsReleased += n
			if r.SmallestGroupShown == 0 || n < r.SmallestGroupShown {
				r.SmallestGroupShown = n
			}
		} else {
			r.GroupsSuppressed++
			r.RecordsSuppressed += n
		}
	}
	return r
}
