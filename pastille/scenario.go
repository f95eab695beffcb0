package pastille

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fulltext"
)

// Scenario is one relevance judgement (testdata/scenarios/README.md): a
// record, a professional, a date, and how much each document matters to
// them then, graded 0 to 3 by someone who had not seen the ranking.
type Scenario struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Caller      Caller         `json:"caller"`
	Now         time.Time      `json:"now"`
	LastVisit   *time.Time     `json:"lastVisit"`
	Docs        []scenarioDoc  `json:"docs"`
	Queries     []Query        `json:"queries"`
	Grades      map[string]int `json:"grades"`
	File        string         `json:"-"`
}

// Query is a full-text query of a scenario with its own grades.
type Query struct {
	Q      string         `json:"q"`
	Grades map[string]int `json:"grades"`
}

type scenarioDoc struct {
	ID            string                `json:"id"`
	LogicalID     string                `json:"logicalId"`
	UniqueID      string                `json:"uniqueId"`
	SubmissionSet string                `json:"submissionSet"`
	Status        carnet.DocumentStatus `json:"status"`
	Type          carnet.Coding         `json:"type"`
	Class         carnet.Coding         `json:"class"`
	Format        carnet.Coding         `json:"format"`
	Facility      carnet.Coding         `json:"facility"`
	Practice      carnet.Coding         `json:"practice"`
	Title         string                `json:"title"`
	Created       time.Time             `json:"created"`
	Date          time.Time             `json:"date"`
	Labels        []string              `json:"labels"`
	SHA256        string                `json:"sha256"`
	Replaces      []string              `json:"replaces"`
	Superseded    bool                  `json:"superseded"`
	LabelsChanged bool                  `json:"labelsChanged"`
	AuthorNames   []string              `json:"authorNames"`
	Findings      []Finding             `json:"findings"`
	Text          string                `json:"text"`
}

// LoadScenarios reads every scenario file of dir.
func LoadScenarios(dir string) ([]Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Scenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s Scenario
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		s.File = filepath.Base(f)
		for _, d := range s.Docs {
			if _, ok := s.Grades[d.ID]; !ok {
				return nil, fmt.Errorf("%s: document %s has no grade", s.File, d.ID)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Input is the ranking's input for the scenario, with query q ("" for the
// card). Text scores come from the same analyzer and BM25 as the server's,
// over the scenario's own documents.
func (s Scenario) Input(q string) Input {
	in := Input{Caller: s.Caller, Now: s.Now, Query: q}
	if s.LastVisit != nil {
		in.LastVisit = *s.LastVisit
	}
	var scores map[string]float64
	if q != "" {
		var ix fulltext.Index
		for _, d := range s.Docs {
			ix.Add(d.LogicalID, d.Title+"\n"+d.Text)
		}
		scores = map[string]float64{}
		for _, h := range ix.Search(q) {
			scores[h.Doc] = h.Score
		}
	}
	for _, d := range s.Docs {
		sum, _ := hex.DecodeString(d.SHA256)
		in.Docs = append(in.Docs, Doc{ID: d.ID, LogicalID: d.LogicalID, UniqueID: d.UniqueID, SubmissionSet: d.SubmissionSet,
			Status: d.Status, Type: d.Type, Class: d.Class, Format: d.Format, Facility: d.Facility, Practice: d.Practice,
			Title: d.Title, Created: d.Created, Date: d.Date, Labels: d.Labels, SHA256: sum, Replaces: d.Replaces,
			Superseded: d.Superseded, LabelsChanged: d.LabelsChanged, AuthorNames: d.AuthorNames, Findings: d.Findings,
			Concepts: ConceptsOf(Evidence{Text: d.Title + "\n" + d.Text}), TextScore: scores[d.LogicalID]})
	}
	return in
}

// ServedInput is in as the server ranks it: on the clear fields and blind
// tokens of each document only, before anything is opened (docs/PASTILLE.md,
// "How it is served"). The title is known by its key (a series) and by the
// affinity table's words it holds, both read at filing, and the authors by
// the specialties the table weighs (also read at filing); author names, the
// codes' displays and the results' values are not known.
func ServedInput(in Input) Input {
	docs := make([]Doc, len(in.Docs))
	for i, d := range in.Docs {
		if k := carnet.TitleKey(d.Title, d.Type.Display); k != "" {
			d.TitleKey = k
		}
		d.TitleWords = TitleWordsOf(d.Title)
		d.AuthorSpecialties = weighedAuthorSpecialties(d.AuthorSpecialties)
		d.Title, d.AuthorNames = "", nil
		d.Type.Display, d.Class.Display, d.Format.Display, d.Facility.Display, d.Practice.Display = "", "", "", "", ""
		d.Findings = slices.Clone(d.Findings)
		for j := range d.Findings {
			d.Findings[j].Display, d.Findings[j].Value, d.Findings[j].Code.Display = "", "", ""
		}
		docs[i] = d
	}
	in.Docs = docs
	return in
}

// Gains gives each line of a ranked list its grade: a line folding several
// documents (superseded versions, duplicates) counts the best of them, as
// the scenarios' README asks.
func Gains(ranked []Ranked, grades map[string]int) map[string]int {
	out := make(map[string]int, len(grades))
	for k, v := range grades {
		out[k] = v
	}
	for _, r := range ranked {
		for _, c := range r.Collapsed {
			if grades[c] > out[r.Doc.ID] {
				out[r.Doc.ID] = grades[c]
			}
		}
	}
	return out
}

// Result is one scenario's nDCG@10 for Carnet's ranking and for the
// reverse-chronological list.
type Result struct {
	Scenario, Query       string
	Role                  string // the caller's role (RoleOf)
	Carnet, Chronological float64
	// Served is Carnet's ranking as the server computes it, on clear
	// fields only (ServedInput): no title, no author names.
	Served float64
}

// Roles are the callers' roles the benchmark reports on, in its order.
var Roles = []string{"médecin généraliste", "cardiologue", "urgentiste", "infirmier", "pharmacien", "chirurgien-dentiste", "sage-femme", "masseur-kinésithérapeute"}

// RoleOf names the role of a caller for the benchmark's per-role figures:
// a specialty counts as the one it is an alias of in the affinity table
// (a rhythmologist is a cardiologist), a profession as itself.
func RoleOf(c Caller) string {
	spec := c.Specialty
	if a, ok := affinities.aliases[spec]; ok && a.factor == 1 {
		spec = a.target
	}
	prof := c.Profession
	if prof == "" {
		prof, _, _ = strings.Cut(c.Specialty, "/")
	}
	if a, ok := affinities.aliases[prof]; ok {
		prof = a.target
	}
	switch spec {
	case "G15_10/SM54":
		return Roles[0]
	case "G15_10/SM04":
		return Roles[1]
	case "G15_10/SM59":
		return Roles[2]
	}
	switch prof {
	case "G15_60":
		return Roles[3]
	case "G15_21":
		return Roles[4]
	case "G15_40":
		return Roles[5]
	case "G15_50":
		return Roles[6]
	case "G15_70":
		return Roles[7]
	}
	if spec != "" {
		return spec
	}
	return prof
}

// RoleMean is the mean nDCG@10 of one role's rankings, both ways.
type RoleMean struct {
	Role                          string
	N                             int
	Carnet, Chronological, Served float64
}

// ByRole averages results per role, in the order of Roles (others after,
// by name), then the mean over every ranking as the role "".
func ByRole(res []Result) []RoleMean {
	m := map[string]*RoleMean{}
	var all RoleMean
	for _, r := range res {
		e := m[r.Role]
		if e == nil {
			e = &RoleMean{Role: r.Role}
			m[r.Role] = e
		}
		e.N++
		e.Carnet += r.Carnet
		e.Chronological += r.Chronological
		e.Served += r.Served
		all.N++
		all.Carnet += r.Carnet
		all.Chronological += r.Chronological
		all.Served += r.Served
	}
	var out []RoleMean
	for _, role := range Roles {
		if e := m[role]; e != nil {
			out = append(out, *e)
			delete(m, role)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, *m[k])
	}
	out = append(out, all)
	for i := range out {
		out[i].Carnet /= float64(out[i].N)
		out[i].Chronological /= float64(out[i].N)
		out[i].Served /= float64(out[i].N)
	}
	return out
}

// Evaluate ranks every scenario (and its queries) both ways.
func Evaluate(scenarios []Scenario) []Result {
	var out []Result
	for _, s := range scenarios {
		queries := append([]Query{{Grades: s.Grades}}, s.Queries...)
		for _, q := range queries {
			in := s.Input(q.Q)
			ranked, chrono := Rank(in), ReverseChronological(in)
			served := Rank(ServedInput(s.Input(q.Q)))
			out = append(out, Result{Scenario: s.File, Query: q.Q, Role: RoleOf(s.Caller),
				Carnet:        NDCG(ranked, Gains(ranked, q.Grades), 10),
				Chronological: NDCG(chrono, q.Grades, 10),
				Served:        NDCG(served, Gains(served, q.Grades), 10)})
		}
	}
	return out
}
