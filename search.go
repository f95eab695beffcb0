package carnet

// DocumentSearch is an ITI-67 Find Document References query in domain
// terms. Exactly one of PatientKey and PatientID is set.
//
// Filter token values are what the caller sent, with codes in both forms
// ("system|code" or "code"). Name searches (kinds "author.family" and
// "author.given") carry the folded names in clear: the Service turns them
// into blind-index tokens for the patient before asking the Store.
type DocumentSearch struct {
	PatientKey PatientKey // from patient=Patient/{id}
	PatientID  Identifier // from patient.identifier=system|value (INS)
	Filter     DocumentFilter
	Count      int    // page size; 0 means the server default
	Page       string // opaque cursor from a previous page's next link
	// Total asks for the number of matches the caller may see
	// (_total=accurate): without it Page.Total is known only when one page
	// holds every match (TotalUnknown otherwise), so that a page costs
	// what it returns, not what the record holds.
	Total bool
}

// TotalUnknown is Page.Total when the total was not counted.
const TotalUnknown = -1

// ListSearch is an ITI-66 Find Document Lists query in domain terms.
type ListSearch struct {
	PatientKey PatientKey
	PatientID  Identifier
	Filter     SubmissionSetFilter
	Count      int
	Page       string
}

// Page is one page of results with the cursor of the next one.
type Page[T any] struct {
	Items    []T
	Total    int    // matches the caller may see, before paging; TotalUnknown when not counted
	Next     string // cursor of the next page, "" on the last
	Warnings []string
}

// ItemQuery is a QEDm search in domain terms. Exactly one of PatientKey and
// PatientID is set.
type ItemQuery struct {
	PatientKey PatientKey
	PatientID  Identifier
	Filter     ItemFilter
	Count      int
	Page       string // opaque cursor from a previous page
	// Chronological orders the oldest first (_sort=date): a series of one
	// analyte, ready to chart. Otherwise the newest come first.
	Chronological bool
	// Total asks for the number of items the caller may see
	// (_total=accurate), as DocumentSearch.Total.
	Total bool
}
