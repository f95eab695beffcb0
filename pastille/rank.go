package pastille

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Weights of the signals; docs/PASTILLE.md explains each.
const (
	weightNew        = 4.0  // filed since the caller's last visit
	weightRecency    = 3.0  // times the recency factor of the document's kind
	weightAbnormal   = 2.0  // some out-of-range result
	weightCritical   = 3.5  // some critical result (HH, LL, AA), instead of weightAbnormal
	weightText       = 3.0  // times the BM25 score over the best one of the query
	weightLabels     = 2.0  // confidentiality changed since the last visit
	weightSuperseded = -1.0 // a replaced version whose replacement is not in the list
	weightArchived   = -1.5 // archived by its author

	affinityMin            = -3.0 // bounds of the document affinity (type, practice, author)
	affinityMax            = 5.0
	criticalAffinityFactor = 1.5 // a critical result weighs more for whom it concerns

	weightFresh      = 2.5 // acted in the last days: the situation at hand
	freshDays        = 3
	weightNewRoutine = 1.0  // new, but routine: a dispensation, a normal result, a paper
	wantedAffinity   = 1.5  // a type the caller wants this much is never routine to them
	weightHistory    = -1.0 // an older result of a series a newer one replaced
	historyFactor    = 0.25 // what is left of an old result's gains once a newer one replaced it
	conceptMax       = 5.0  // bound of the concepts' gain
	conceptFadeFloor = 0.35 // a concept that is not a founding event fades to this part
	actFactor        = 1.5  // a lasting concept in the report of the act itself
	foundingWeight   = 3    // a lasting concept this heavy for the caller keeps an old document in a first visit's window

	// lateFiled: a document dated more than this before the last visit
	// and filed since is a late filing.
	lateFiled = 7 * day

	// groupShare: a line is pulled up to its submission's best line when
	// it scores at least this share of it.
	groupShare = 0.5

	// The latest prescription, written within currentTreatmentDays, is
	// the treatment in progress (its weight: the caller's rule row).
	currentTreatmentDays = 183

	// pinnedDays: a summary older than this is not pinned, nor one a
	// newer hospital report supersedes: it is ranked like the others.
	pinnedDays = 365

	// firstVisitYears is the window of a first visit (ANS guidance).
	firstVisitYears = 2
)

// Tiers order the list before the score does: pinned summaries, then the
// documents that match the query (and, at a first visit, are current and
// of the window), then those of the first visit outside the window, then
// with a query the documents that do not match.
const (
	tierPinned = iota
	tierMain
	tierOld
	tierNoMatch
	tierNoMatchOld
)

// Rank orders the documents the caller may see, most useful first, each
// line with its reasons. See docs/PASTILLE.md for the model.
func Rank(in Input) []Ranked {
	docs := in.candidates()
	if len(docs) == 0 {
		return []Ranked{}
	}
	r := newRanker(in, docs)
	clusters := collapse(docs)
	hist := history(docs, clusters)
	lines := make([]line, len(clusters))
	for i, c := range clusters {
		r.score(&lines[i], docs, c, hist[i])
	}
	r.pin(lines, docs)
	perm := order(lines, docs)
	// Each line's document is copied once, in its final place.
	out := make([]Ranked, len(perm))
	for k, i := range perm {
		l := &lines[i]
		d := docs[l.head]
		out[k] = Ranked{Doc: d, Score: l.score, Reasons: l.reasons, New: l.new, Pinned: l.pinned,
			Collapsed: l.collapsed, Group: d.SubmissionSet}
	}
	return out
}

// line is a line being ranked: its head document and what decides its place.
type line struct {
	head      int32
	tier      int8
	new       bool
	pinned    bool
	score     float64
	reasons   []Reason
	collapsed []string
}

// ReverseChronological is the baseline a clinician gets today: the same
// documents, newest filed first, nothing collapsed, nothing pinned.
func ReverseChronological(in Input) []Ranked {
	docs := in.candidates()
	slices.SortStableFunc(docs, newerFirst)
	out := make([]Ranked, len(docs))
	first := in.LastVisit.IsZero()
	for i, d := range docs {
		out[i] = Ranked{Doc: d, Group: d.SubmissionSet, New: !first && d.Date.After(in.LastVisit)}
		if out[i].New {
			out[i].Reasons = []Reason{{Code: "new", Text: textNew}}
		}
	}
	return out
}

// candidates are the input's documents but what may not be shown at all:
// logically deleted documents (their content is no longer served). The
// slice is the caller's to reorder; the documents are read only.
func (in Input) candidates() []*Doc {
	if in.shared != nil {
		out := make([]*Doc, 0, len(in.shared))
		for _, d := range in.shared {
			if d.Status != carnet.StatusDeleted {
				out = append(out, d)
			}
		}
		return out
	}
	docs := in.Docs
	out := make([]*Doc, 0, len(docs))
	for i := range docs {
		if docs[i].Status != carnet.StatusDeleted {
			out = append(out, &docs[i])
		}
	}
	return out
}

// newerFirst is the tie-break: date filed, newest first, then id.
func newerFirst(a, b *Doc) int {
	if c := b.Date.Compare(a.Date); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// cluster is one line before scoring: a head document and what folds into it.
type cluster struct {
	head        int
	versions    []int // replaced by the head, directly or along the chain
	dups        []int // same uniqueId or same content
	first, last int32 // the chain of members (collapse)
}

func superseded(d *Doc) bool { return d.Superseded || d.Status == carnet.StatusSuperseded }

// collapse folds replaced versions (following relatesTo replaces, by id or
// logical id) and duplicates (same uniqueId, same SHA-256) together; each
// cluster's head is its live, latest document.
func collapse(docs []*Doc) []cluster {
	n := len(docs)
	sc := scratchPool.Get().(*collapseScratch)
	defer sc.release()
	parent := grow(&sc.parent, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	// The root of a set is its smallest index.
	union := func(a, b int32) {
		ra, rb := find(a), find(b)
		if ra > rb {
			ra, rb = rb, ra
		}
		parent[rb] = ra
	}
	link := func(m map[string]int32, key string, i int32) {
		if j, ok := m[key]; ok {
			union(i, j)
		} else {
			m[key] = i
		}
	}
	ids, uniques, hashes, long := sc.ids, sc.uniques, sc.hashes, sc.long
	for i, d := range docs {
		if d.ID != "" {
			link(ids, d.ID, int32(i))
		}
		if d.LogicalID != "" && d.LogicalID != d.ID {
			link(ids, d.LogicalID, int32(i))
		}
		if d.UniqueID != "" {
			link(uniques, d.UniqueID, int32(i))
		}
		switch h := d.SHA256; {
		case len(h) > 32:
			link(long, string(h), int32(i))
		case len(h) > 0:
			k := hashKey{n: len(h)}
			copy(k.b[:], h)
			if j, ok := hashes[k]; ok {
				union(int32(i), j)
			} else {
				hashes[k] = int32(i)
			}
		}
	}
	replaced := grow(&sc.replaced, n)
	for i, d := range docs {
		for _, id := range d.Replaces {
			if j, ok := ids[id]; ok && j != int32(i) {
				union(int32(i), j)
				replaced[j] = true
			}
		}
	}
	// Members of each set, chained in input order: no allocation for the
	// many documents that are alone.
	clusterOf, next := grow(&sc.clusterOf, n), grow(&sc.next, n)
	var out []cluster
	for i := range n {
		next[i] = -1
		r := find(int32(i))
		if r == int32(i) {
			clusterOf[i] = int32(len(out))
			out = append(out, cluster{head: i, first: int32(i), last: int32(i)})
			continue
		}
		c := &out[clusterOf[r]]
		next[c.last] = int32(i)
		c.last = int32(i)
	}
	for k := range out {
		c := &out[k]
		if c.first == c.last {
			continue
		}
		for i := next[c.first]; i >= 0; i = next[i] {
			if betterHead(docs[i], replaced[i], docs[c.head], replaced[c.head]) {
				c.head = int(i)
			}
		}
		for i := c.first; i >= 0; i = next[i] {
			switch {
			case int(i) == c.head:
			case replaced[i] || superseded(docs[i]):
				c.versions = append(c.versions, int(i))
			default:
				c.dups = append(c.dups, int(i))
			}
		}
	}
	return out
}

// collapseScratch is what collapse needs while it works, kept between
// rankings (scratchPool): a card ranks thousands of documents, and maps
// and slices made afresh for each would be most of what it allocates.
type collapseScratch struct {
	parent, clusterOf, next []int32
	replaced                []bool
	ids, uniques, long      map[string]int32
	// SHA-256 keys as arrays: a string of each hash would be an
	// allocation per document.
	hashes map[hashKey]int32
}

type hashKey struct {
	n int
	b [32]byte
}

var scratchPool = sync.Pool{New: func() any {
	return &collapseScratch{ids: map[string]int32{}, uniques: map[string]int32{}, long: map[string]int32{}, hashes: map[hashKey]int32{}}
}}

// release empties the scratch (its maps hold the documents' strings) and
// puts it back.
func (sc *collapseScratch) release() {
	clear(sc.ids)
	clear(sc.uniques)
	clear(sc.long)
	clear(sc.hashes)
	scratchPool.Put(sc)
}

// grow returns (*s)[:n] zeroed, growing *s when it is too short.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
	clear(*s)
	return *s
}

// betterHead: live before replaced, current before archived, then the
// latest filed, then the smallest id.
func betterHead(a *Doc, aReplaced bool, b *Doc, bReplaced bool) bool {
	live := func(d *Doc, r bool) int {
		switch {
		case r || superseded(d):
			return 0
		case d.Status == carnet.StatusCurrent:
			return 2
		}
		return 1
	}
	if la, lb := live(a, aReplaced), live(b, bReplaced); la != lb {
		return la > lb
	}
	return newerFirst(a, b) < 0
}

type ranker struct {
	in          Input
	first       bool
	windowStart time.Time
	query       bool
	maxText     float64
	view        affinityView
	// texts caches the reason texts built from parts, so that 2,000
	// documents do not make 2,000 copies of "récent : il y a 3 mois".
	texts map[textKey]string
	buf   []byte // folded titles
	// reasons is where the lines' reasons are taken from: a line is given
	// room for reasonWindow and keeps what it used (keepReasons), so that
	// all lines share a few allocations of the reasons they have (a line
	// with more reasons grows its own copy).
	reasons []Reason
}

const reasonWindow = 5

func (r *ranker) reasonSlice() []Reason {
	if len(r.reasons)+reasonWindow > cap(r.reasons) {
		r.reasons = make([]Reason, 0, 1024)
	}
	n := len(r.reasons)
	return r.reasons[n : n : n+reasonWindow]
}

// keepReasons ends a line's reasons: those it wrote in the shared room are
// kept there, and the line's slice is capped, so that an append to it
// later (a pin) copies instead of writing over the next line's.
func (r *ranker) keepReasons(rs []Reason) []Reason {
	rs = rs[:len(rs):len(rs)]
	if n := len(r.reasons); len(rs) > 0 && n < cap(r.reasons) && &r.reasons[:n+1][n] == &rs[0] {
		r.reasons = r.reasons[:n+len(rs)]
	}
	return rs
}

type textKey struct {
	kind byte
	s    string
	n    int
}

// text returns prefix + s, made once per kind and s.
func (r *ranker) text(kind byte, s string, prefix string) string {
	k := textKey{kind: kind, s: s}
	if t, ok := r.texts[k]; ok {
		return t
	}
	t := prefix + s
	r.texts[k] = t
	return t
}

func newRanker(in Input, docs []*Doc) *ranker {
	r := &ranker{
		in:          in,
		first:       in.LastVisit.IsZero(),
		windowStart: in.Now.AddDate(-firstVisitYears, 0, 0),
		query:       strings.TrimSpace(in.Query) != "",
		view:        affinities.view(in.Caller),
		texts:       map[textKey]string{},
	}
	for _, d := range docs {
		if s := textScore(d); s > r.maxText {
			r.maxText = s
		}
	}
	return r
}

// textScore is the document's BM25 score, 0 when unusable.
func textScore(d *Doc) float64 {
	if d.TextScore > 0 && !math.IsInf(d.TextScore, 0) {
		return d.TextScore
	}
	return 0
}

// clinicalDate is when what a document reports happened: its creation
// (the act documented), else, when the producer gave none, its filing. A
// 2021 report filed today is a 2021 report.
func clinicalDate(d *Doc) time.Time {
	if !d.Created.IsZero() {
		return d.Created
	}
	return d.Date
}

// inWindow: what a first visit shows (ANS): current documents of the last
// two years, vaccinations whatever their age.
func inWindow(d *Doc, start time.Time) bool {
	if d.Status != carnet.StatusCurrent || d.Superseded {
		return false
	}
	return vaccinationTypes[d.Type.Code] || agingOf(d.Type.Code).HalfLife == 0 || !clinicalDate(d).Before(start)
}

// French texts of the reasons.
const (
	textNew            = "nouveau depuis votre dernière visite"
	textFresh          = "des derniers jours : la situation en cours"
	textFoundingResult = "résultat fondateur : ne se périme pas"
	textLate           = textNew + " (acte du "
	textLabels         = "confidentialité modifiée depuis votre dernière visite"
	textPatient        = "déposé par le patient"
	textText           = "correspond à votre recherche"
	textSuperseded     = "version remplacée"
	textArchived       = "document archivé"
	textWindow         = "hors des 2 dernières années"
	textNotCurrent     = "document non courant"
)

// score scores the line of cluster c and decides its tier.
func (r *ranker) score(l *line, docs []*Doc, c cluster, hist historyNote) {
	d := docs[c.head]
	l.head = int32(c.head)
	l.tier = tierMain
	if folded := len(c.versions) + len(c.dups); folded > 0 {
		idx := append(append(make([]int, 0, folded), c.versions...), c.dups...)
		slices.SortFunc(idx, func(a, b int) int { return newerFirst(docs[a], docs[b]) })
		l.collapsed = make([]string, len(idx))
		for i, j := range idx {
			l.collapsed[i] = docs[j].ID
		}
	}
	reasons := r.reasonSlice()
	add := func(code, text string, gain float64) {
		reasons = append(reasons, Reason{Code: code, Text: text, Gain: gain})
		l.score += gain
	}

	age := r.in.Now.Sub(clinicalDate(d))
	ag := agingOf(d.Type.Code)
	rec := ag.factor(age)
	// Signals of interest fade with the document's age, but not to nothing.
	fade := 0.5 + 0.5*rec
	fadeResult := 0.25 + 0.75*rec

	concept, conceptNotes, conceptOK, founding := r.conceptAffinity(d, rec)
	aff, affNotes, affOK := r.docAffinity(d)
	if !r.first && d.Date.After(r.in.LastVisit) {
		l.new = true
		// New is not relevant by itself: a dispensation, a normal routine
		// result or a paper filed since the last visit is news, not what
		// the caller must know before acting.
		gain := weightNew
		if routine(d, hist, conceptOK && concept > 0, affOK && aff < 0, affOK && aff >= wantedAffinity) ||
			normalResult(d) && !r.weighsLasting(d) {
			gain = weightNewRoutine
		}
		text := textNew
		// A report filed late is news of an old act: its novelty fades
		// with how long before the last visit the act took place, at the
		// pace of its kind (a 2019 operative report filed today is not
		// what happened since; the letter of the visit itself, filed the
		// next day, is).
		if before := r.in.LastVisit.Sub(clinicalDate(d)); before > lateFiled {
			gain = max(gain*ag.factor(before), weightNewRoutine)
			text = r.text('l', clinicalDate(d).Format("02/01/2006")+")", textLate)
		}
		add("new", text, gain)
	}
	resultFactor := 1.0
	if hist.newer {
		resultFactor = historyFactor
		add("history", hist.text, weightHistory)
	}

	if n := len(d.Findings); n > 0 {
		crit := 0
		for _, f := range d.Findings {
			if f.Critical() {
				crit++
			}
		}
		if crit > 0 {
			add("critical", findingsText(d.Findings, true), weightCritical*fadeResult*resultFactor)
		}
		if crit < n {
			gain := 0.0
			if crit == 0 {
				gain = weightAbnormal * fadeResult * resultFactor
			}
			add("abnormal", findingsText(d.Findings, false), gain)
		}
		var best affinityEntry
		for _, f := range d.Findings {
			e, ok := r.view.get(whatFinding, f.Code.Code)
			if !ok {
				continue
			}
			if f.Critical() {
				e.Weight *= criticalAffinityFactor
			}
			if e.Weight > best.Weight {
				best = e
			}
		}
		if best.Weight > 0 {
			add("affinity", r.text('f', best.Note, "résultat utile pour votre pratique : "), best.Weight*fadeResult*resultFactor)
		}
	}

	if affOK {
		aff = min(max(aff, affinityMin), affinityMax)
		if aff >= 0 {
			add("affinity", r.text('+', affNotes, "utile pour votre pratique : "), aff*fade)
		} else { // what is of no use to the caller stays so, however recent
			add("affinity", r.text('-', affNotes, "peu utile pour votre pratique : "), aff)
		}
	}
	if conceptOK && concept > 0 {
		f := resultFactorConcept(hist)
		// A dispensation or an order repeats what its prescription or its
		// result says: its concepts are echoes, unless the caller is the
		// one it is addressed to.
		if isEcho(d.Type.Code) && !(affOK && aff >= wantedAffinity) {
			f = min(f, historyFactor)
		}
		// A summary not renewed within the year restates what its
		// sources (and the news since) say: its concepts are echoes too.
		if _, summary := summaryTypes[d.Type.Code]; summary && age > pinnedDays*day {
			add("concept", r.text('s', conceptNotes, "synthèse de plus d'un an, à savoir avant d'agir : "), concept*min(f, historyFactor))
		} else {
			add("concept", r.text('c', conceptNotes, "à savoir avant d'agir : "), concept*f)
		}
	}

	if hist.current && !r.query && age <= currentTreatmentDays*day {
		if e, ok := r.view.get(whatRule, ruleCurrentTreatment); ok && e.Weight > 0 {
			add("current", r.text('t', e.Note, "traitement en cours : "), e.Weight)
		}
	}
	if age >= 0 && age <= freshDays*day && !hist.newer && r.fresh(d, affOK, aff) {
		add("fresh", textFresh, weightFresh)
	}
	if !r.first && d.LabelsChanged {
		add("labels-changed", textLabels, weightLabels)
	}
	if r.query {
		if s := textScore(d); s > 0 {
			add("text", textText, weightText*s/r.maxText)
		} else {
			l.tier = tierNoMatch
		}
	}
	if d.Class.Code == classPatient {
		add("patient", textPatient, 0)
	}
	if n := len(c.versions); n > 0 {
		add("replaced", plural(n, "remplace 1 version antérieure", " versions antérieures", "remplace "), 0)
	}
	if n := len(c.dups); n > 0 {
		add("duplicate", plural(n, "1 doublon regroupé", " doublons regroupés", ""), 0)
	}
	if superseded(d) {
		add("superseded", textSuperseded, weightSuperseded)
	}
	if d.Status == carnet.StatusArchived {
		add("archived", textArchived, weightArchived)
	}
	if r.first && !inWindow(d, r.windowStart) && !(founding && !hist.newer && d.Status == carnet.StatusCurrent && !superseded(d)) {
		l.tier++ // tierMain → tierOld, tierNoMatch → tierNoMatchOld
		if d.Status == carnet.StatusCurrent && !d.Superseded {
			add("window", textWindow, 0)
		} else if d.Status != carnet.StatusArchived && !superseded(d) {
			add("window", textNotCurrent, 0)
		}
	}
	if founding && resultTypes[d.Type.Code] && !hist.newer && rec < agingNone.Constant {
		// A result that establishes a founding event (an alloimmunisation,
		// a thrombophilia) does not age like routine biology.
		add("recent", textFoundingResult, weightRecency*agingNone.Constant)
	} else {
		add("recent", r.recencyText(ag, age, rec), weightRecency*rec*resultFactor)
	}
	l.reasons = r.keepReasons(reasons)
}

// fresh: a document of the last days that tells the situation at hand: a
// professional's account, or the patient's own when the caller weighs it
// (their symptoms tonight, their readings); not an echo (a dispensation, an
// order for someone else), not a paper.
func (r *ranker) fresh(d *Doc, affOK bool, aff float64) bool {
	wanted := affOK && aff >= wantedAffinity
	switch {
	case affOK && aff < 0:
		return false
	case isEcho(d.Type.Code) && !wanted:
		return false
	case d.Class.Code == classPatient:
		// The patient's own account of tonight (symptoms, readings) when
		// the caller weighs it; not a summary they wrote.
		_, summary := summaryTypes[d.Type.Code]
		return affOK && aff > 0 && !summary
	}
	return true
}

// docAffinity is the sum of the caller's rows for the document's type,
// practice setting and authors or title, with their notes.
func (r *ranker) docAffinity(d *Doc) (weight float64, notes string, ok bool) {
	var parts [3]string
	n := 0
	if e, found := r.view.get(whatType, d.Type.Code); found {
		weight += e.Weight
		parts[n] = e.Note
		n++
	}
	if e, found := r.view.get(whatPractice, d.Practice.Code); found {
		weight += e.Weight
		parts[n] = e.Note
		n++
	}
	// The author's specialty and the title say the same thing (a
	// cardiology letter): the stronger one counts.
	author, okA := r.view.author(d.AuthorSpecialties)
	var title affinityEntry
	okT := false
	switch {
	case len(r.view.titles) == 0:
	case d.Title != "":
		r.buf = foldAppend(r.buf[:0], d.Title)
		title, okT = r.view.title(r.buf)
	case len(d.TitleWords) > 0: // the server: the title's words read at filing
		title, okT = r.view.titleWords(d.TitleWords)
	}
	switch {
	case okA && (!okT || author.Weight >= title.Weight):
		weight += author.Weight
		parts[n] = author.Note
		n++
	case okT:
		weight += title.Weight
		parts[n] = title.Note
		n++
	}
	switch n {
	case 0:
		return 0, "", false
	case 1:
		return weight, parts[0], true
	}
	return weight, strings.Join(parts[:n], ", "), true
}

// pin puts the latest summary of each kind on top: current, in the
// window, filed by a professional, matching the query if there is one.
func (r *ranker) pin(lines []line, docs []*Doc) {
	best := map[string]int{}
	// The latest hospital report: a summary written before it no longer
	// says what matters first.
	var latestStay time.Time
	// A summary is first when it carries what matters at least as much as
	// any other line, not by rule: a referral letter, tonight's INR or a
	// new hospital report weighing more come before it.
	top := 0.0
	for i := range lines {
		d := docs[lines[i].head]
		if _, ok := summaryTypes[d.Type.Code]; !ok && lines[i].tier == tierMain && lines[i].score > top {
			top = lines[i].score
		}
		if stayTypes[d.Type.Code] && d.Status == carnet.StatusCurrent && !superseded(d) && clinicalDate(d).After(latestStay) {
			latestStay = clinicalDate(d)
		}
	}
	for i := range lines {
		d := docs[lines[i].head]
		if _, ok := summaryTypes[d.Type.Code]; !ok || lines[i].tier != tierMain ||
			d.Status != carnet.StatusCurrent || d.Superseded || d.Class.Code == classPatient {
			continue
		}
		// At a later visit, a summary the caller has already seen is not
		// what comes first: a new one is.
		if r.in.Now.Sub(clinicalDate(d)) > pinnedDays*day || latestStay.After(clinicalDate(d)) ||
			!r.first && !d.Date.After(r.in.LastVisit) || lines[i].score < top {
			continue
		}
		if j, ok := best[d.Type.Code]; !ok || newerFirst(d, docs[lines[j].head]) < 0 {
			best[d.Type.Code] = i
		}
	}
	for code, i := range best {
		l := &lines[i]
		l.pinned = true
		l.tier = tierPinned
		l.reasons = slices.Insert(l.reasons, 0, Reason{Code: "summary", Text: "épinglé en tête : " + summaryTypes[code]})
	}
}

// order is the final order of the lines: by tier, score, date and id,
// then the other lines of a submission (same tier) pulled up to its best
// one, keeping their order.
func order(lines []line, docs []*Doc) []int32 {
	perm := make([]int32, len(lines))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(i, j int32) int {
		a, b := &lines[i], &lines[j]
		if c := cmp.Compare(a.tier, b.tier); c != 0 {
			return c
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return newerFirst(docs[a.head], docs[b.head])
	})
	// Each line takes the position of the best line of its submission in
	// its tier; a stable sort on that keeps the order inside a group.
	type groupKey struct {
		tier int8
		set  string
	}
	leader := make(map[groupKey]int32, len(lines)/2)
	at := make([]int32, len(lines))
	grouped := false
	for p, i := range perm {
		at[i] = int32(p)
		l := &lines[i]
		if set := docs[l.head].SubmissionSet; set != "" && !l.pinned {
			k := groupKey{l.tier, set}
			if q, ok := leader[k]; ok {
				if l.score >= groupShare*lines[perm[q]].score {
					at[i] = q
					grouped = true
				}
			} else {
				leader[k] = int32(p)
			}
		}
	}
	if grouped {
		slices.SortStableFunc(perm, func(i, j int32) int { return cmp.Compare(at[i], at[j]) })
	}
	return perm
}

func plural(n int, one, many, prefix string) string {
	if n == 1 {
		return one
	}
	return prefix + strconv.Itoa(n) + many
}

// interpretations in French, for the clinician.
var interpretations = map[string]string{
	"H": "élevé", "HH": "très élevé", "L": "bas", "LL": "très bas",
	"A": "anormal", "AA": "très anormal",
	">": "au-dessus du seuil", "<": "en dessous du seuil",
}

// findingsText lists the (critical or other) findings, three at most.
// RefreshReasons rewrites the texts of a line's result reasons after the
// caller filled in the findings' names and values (the ranking runs on
// codes, before any result is opened).
func RefreshReasons(r *Ranked) {
	for i := range r.Reasons {
		switch r.Reasons[i].Code {
		case "critical":
			r.Reasons[i].Text = findingsText(r.Doc.Findings, true)
		case "abnormal":
			r.Reasons[i].Text = findingsText(r.Doc.Findings, false)
		}
	}
}

func findingsText(fs []Finding, critical bool) string {
	var b strings.Builder
	b.Grow(96)
	n := 0
	for _, f := range fs {
		if f.Critical() == critical {
			n++
		}
	}
	switch {
	case critical && n == 1:
		b.WriteString("résultat critique : ")
	case critical:
		b.WriteString(strconv.Itoa(n) + " résultats critiques : ")
	case n == 1:
		b.WriteString("résultat anormal : ")
	default:
		b.WriteString(strconv.Itoa(n) + " résultats anormaux : ")
	}
	shown := 0
	for _, f := range fs {
		if f.Critical() != critical {
			continue
		}
		if shown == 3 {
			b.WriteString("…")
			break
		}
		if shown > 0 {
			b.WriteString(", ")
		}
		shown++
		name := strings.TrimSpace(f.Display)
		if name == "" {
			name = f.Code.Code
		}
		b.WriteString(name)
		if v := strings.TrimSpace(f.Value); v != "" {
			b.WriteString(" " + v)
		}
		if it, ok := interpretations[f.Interpretation]; ok {
			b.WriteString(" (" + it + ")")
		} else if f.Interpretation != "" {
			b.WriteString(" (" + f.Interpretation + ")")
		}
	}
	return b.String()
}

func (r *ranker) recencyText(a aging, age time.Duration, factor float64) string {
	if a.HalfLife == 0 {
		return "ne se périme pas"
	}
	days := int(age / day)
	kind, prefix := byte('o'), "ancien : "
	if factor >= 0.5 {
		kind, prefix = 'r', "récent : "
	}
	k := textKey{kind: kind, n: agoBucket(days)}
	if t, ok := r.texts[k]; ok {
		return t
	}
	t := prefix + ago(days)
	r.texts[k] = t
	return t
}

// agoBucket is the same number for the days ago writes the same way.
func agoBucket(days int) int {
	switch {
	case days < 61:
		return max(days, 0)
	case days < 730:
		return 1000 + days/30
	}
	return 100000 + days/365
}

func ago(days int) string {
	switch {
	case days <= 0:
		return "aujourd'hui"
	case days == 1:
		return "hier"
	case days < 61:
		return "il y a " + strconv.Itoa(days) + " jours"
	case days < 730:
		return "il y a " + strconv.Itoa(days/30) + " mois"
	}
	if days < 2*365 {
		return "il y a 1 an"
	}
	return "il y a " + strconv.Itoa(days/365) + " ans"
}

// resultFactorConcept: an older member of a series carries its concepts at
// the history's factor too (the tenth INR says "INR" as well as the last).
func resultFactorConcept(h historyNote) float64 {
	if h.newer {
		return historyFactor
	}
	return 1
}

// conceptAffinity is what the document's concepts are worth to the caller:
// the sum of the caller's concept rows, a founding event (a valve, a
// device, a cancer treated, a drug that changes every procedure) at its
// full weight whatever its age, the others fading with the document; with
// the notes of the two that weigh most.
func (r *ranker) conceptAffinity(d *Doc, rec float64) (gain float64, notes string, ok, founding bool) {
	if len(r.view.concepts) == 0 {
		return 0, "", false, false
	}
	var seen [16]string
	n := 0
	var top [2]affinityEntry
	consider := func(name string) {
		for _, s := range seen[:n] {
			if s == name {
				return
			}
		}
		if n < len(seen) {
			seen[n] = name
			n++
		}
		e, found := r.view.concepts[name]
		if !found || e.Weight <= 0 {
			return
		}
		w := e.Weight
		if !concepts.lasting[name] {
			w *= conceptFadeFloor + (1-conceptFadeFloor)*rec
		} else {
			if actTypes[d.Type.Code] {
				w *= actFactor // the report of the act itself, not a mention
			}
			if w >= foundingWeight {
				founding = true
			}
		}
		gain += w
		ok = true
		switch {
		case w > top[0].Weight:
			top[1] = top[0]
			top[0] = affinityEntry{Weight: w, Note: e.Note}
		case w > top[1].Weight && e.Note != top[0].Note:
			top[1] = affinityEntry{Weight: w, Note: e.Note}
		}
	}
	for _, c := range d.Concepts {
		consider(c)
	}
	for _, f := range d.Findings {
		for _, c := range concepts.loinc[f.Code.Code] {
			consider(c)
		}
	}
	if !ok {
		return 0, "", false, false
	}
	notes = top[0].Note
	if top[1].Note != "" {
		notes += ", " + top[1].Note
	}
	return min(gain, conceptMax), notes, true, founding
}

// historyNote says that a line is an older member of a series: the same
// routine analysis (same type and title) or the same analytes measured
// again later.
type historyNote struct {
	newer   bool
	text    string
	current bool // the latest prescription of the record: the treatment in progress
}

// prescriptionTypes are prescriptions of medicines: the latest says the
// treatment in progress.
var prescriptionTypes = map[string]bool{"57833-6": true, "57828-6": true}

// sheetTypes are the sheets of one care continued: nursing follow-up
// sheets, administration reports (a cure after another), remote-monitoring
// transmissions. Those of the same type and title form a series whatever
// each one names (the wound, the glucose, the pain of the day): the latest
// is the one to read.
var sheetTypes = map[string]bool{"11506-3": true, "80565-5": true, "85208-7": true}

// seriesTypes are the routine documents that come in series: laboratory,
// dispensations, vital signs, and the care sheets.
var seriesTypes = func() map[string]bool {
	m := map[string]bool{"11502-2": true, "DOCPAT05": true, "60593-1": true, "DISP_AUT": true, "29274-8": true}
	maps.Copy(m, sheetTypes)
	return m
}()

// resultTypes are the results whose news is routine when nothing is out
// of range: laboratory, vital signs.
var resultTypes = map[string]bool{"11502-2": true, "DOCPAT05": true, "29274-8": true}

// echoTypes repeat what another document says: dispensations (of a
// prescription), a sick note. Orders for tests or for another profession's
// care (what matters is the result, the care given) are echoes too: every
// JDV_J07 code of the national "PRESC-" family (isEcho), today's and those
// the ANS adds. So is the medical profile the patient fills in Mon espace
// santé (DOCPAT08): a self-declared list of histories, allergies and
// treatments restating what professionals wrote, a pointer to the sources.
// Filed since the last visit, an echo is routine news (routine).
var echoTypes = map[string]bool{"60593-1": true, "DISP_AUT": true, "DOCPAT08": true}

// isOrder: an order for tests or for a profession's care (the national
// PRESC- family, the prescription of care 57832-8).
func isOrder(code string) bool { return code == "57832-8" || strings.HasPrefix(code, "PRESC-") }

// isEcho reports whether a document of type code repeats another's.
func isEcho(code string) bool { return echoTypes[code] || strings.HasPrefix(code, "PRESC-") }

// actTypes report the founding act itself: an operation, a procedure, an
// implant, a hospital stay. A lasting concept they carry weighs actFactor
// more than the same concept mentioned in a letter.
var actTypes = map[string]bool{"34874-8": true, "11505-5": true, "101881-1": true}

// stayTypes are hospital reports: a summary older than the latest is not
// pinned.
var stayTypes = map[string]bool{"34112-3": true, "11490-0": true, "34133-9": true, "15507-7": true}

// history finds, for each line, whether a newer document of the same
// series exists: a routine document of the same type and title, or a
// document whose results cover every analyte of its out-of-range ones.
// The latest of a series is the line to read, with its trend; the others
// are history.
func history(docs []*Doc, clusters []cluster) []historyNote {
	out := make([]historyNote, len(clusters))
	type latest struct {
		at time.Time
		i  int
	}
	// series numbers each series (a string made once per series, not per
	// document); slots holds its latest.
	series := map[string]int{}
	var slots []latest
	analytes := map[string]time.Time{}
	// measured: when each concept was last the subject of a result (a
	// renal function, an INR, an HbA1c).
	measured := map[string]time.Time{}
	var buf []byte
	// The same analysis: same type, same title, same concepts; a title
	// that only repeats the type's name ("CR d'examens biologiques") names
	// no analysis.
	key := func(d *Doc) []byte {
		if isOrder(d.Type.Code) {
			// The latest order of a kind is the one in force (the
			// physiotherapy, the nursing care prescribed now). The code
			// alone: the other keys all hold a '|'.
			buf = append(buf[:0], d.Type.Code...)
			return buf
		}
		if !seriesTypes[d.Type.Code] {
			return nil
		}
		title := strings.TrimSpace(d.Title)
		switch {
		case title == "" && d.TitleKey != "":
			buf = append(append(buf[:0], d.Type.Code+"|#"...), d.TitleKey...)
		case title == "" || strings.EqualFold(title, strings.TrimSpace(d.Type.Display)):
			return nil
		default:
			buf = foldAppend(append(buf[:0], d.Type.Code+"|"...), title)
		}
		buf = append(buf, '#')
		if sheetTypes[d.Type.Code] {
			return buf // one care, sheet after sheet, whatever each one names
		}
		for _, c := range d.Concepts {
			buf = append(append(buf, '|'), c...)
		}
		return buf
	}
	keys := make([]int32, len(clusters)) // series slot + 1, 0 for none
	latestRx, rxAt := -1, time.Time{}
	for i, c := range clusters {
		d := docs[c.head]
		if d.Status != carnet.StatusCurrent || superseded(d) {
			continue
		}
		at := clinicalDate(d)
		if prescriptionTypes[d.Type.Code] && d.Class.Code != classPatient && at.After(rxAt) {
			latestRx, rxAt = i, at
		}
		if k := key(d); k != nil {
			slot, ok := series[string(k)]
			if !ok {
				slot = len(slots)
				series[string(k)] = slot
				slots = append(slots, latest{at, i})
			} else if at.After(slots[slot].at) {
				slots[slot] = latest{at, i}
			}
			keys[i] = int32(slot + 1)
		}
		for _, f := range d.Findings {
			if at.After(analytes[f.Code.Code]) {
				analytes[f.Code.Code] = at
			}
		}
		if resultTypes[d.Type.Code] {
			for _, c := range d.Concepts {
				if at.After(measured[c]) {
					measured[c] = at
				}
			}
		}
	}
	// One text per series' latest, shared by its older members.
	seriesText := make(map[int]string, len(slots))
	for i, c := range clusters {
		d := docs[c.head]
		at := clinicalDate(d)
		if k := keys[i]; k != 0 && slots[k-1].at.After(at) {
			l := slots[k-1].i
			t, ok := seriesText[l]
			if !ok {
				what := "série : un résultat plus récent existe ("
				if isOrder(d.Type.Code) {
					what = "une prescription plus récente est en cours ("
				}
				t = what + docs[clusters[l].head].Date.Format("02/01/2006") + ")"
				seriesText[l] = t
			}
			out[i] = historyNote{newer: true, text: t}
			continue
		}
		// A result whose every analysis (its concepts) was done again
		// since is history, normal or not.
		if resultTypes[d.Type.Code] && len(d.Concepts) > 0 {
			again := true
			for _, c := range d.Concepts {
				if !measured[c].After(at) {
					again = false
					break
				}
			}
			if again {
				out[i] = historyNote{newer: true, text: "historique : les mêmes analyses ont été refaites depuis"}
				continue
			}
		}
		if len(d.Findings) == 0 {
			continue
		}
		all := true
		for _, f := range d.Findings {
			if !analytes[f.Code.Code].After(at) {
				all = false
				break
			}
		}
		if all {
			out[i] = historyNote{newer: true, text: "historique : mesuré à nouveau depuis"}
		}
	}
	if latestRx >= 0 {
		out[latestRx].current = true
	}
	return out
}

// formatXDLab is the structured laboratory report (CI-SIS XD-LAB): its
// out-of-range results are all in Findings.
const formatXDLab = "urn:ihe:lab:xd-lab:2008"

// normalResult: a structured result (its out-of-range values would be in
// Findings) with nothing out of range.
func normalResult(d *Doc) bool {
	return resultTypes[d.Type.Code] && len(d.Findings) == 0 && d.Format.Code == formatXDLab
}

// weighsLasting: the document names a founding event or a lasting treatment
// the caller weighs (an anticoagulant, a transplant…): a normal result
// that says it was taken for it (before starting a drug, to monitor it)
// is the ground of a decision, not routine.
func (r *ranker) weighsLasting(d *Doc) bool {
	for _, c := range d.Concepts {
		if e, ok := r.view.concepts[c]; ok && e.Weight > 0 && concepts.lasting[c] {
			return true
		}
	}
	return false
}

// routine: news of no consequence for the caller by itself.
func routine(d *Doc, h historyNote, concepts, useless, wanted bool) bool {
	switch {
	case useless, h.newer:
		return true
	case wanted:
		return false
	case d.Type.Code == "60593-1" || d.Type.Code == "DISP_AUT":
		return true // the usual treatment handed out again, whatever it names
	case isEcho(d.Type.Code):
		return true // an order for someone else's care or tests (the care, the result will tell), the patient's own profile
	case concepts:
		return false
	case resultTypes[d.Type.Code] && len(d.Findings) == 0:
		return true // a normal result
	}
	return false
}
