// Package itemparts reads an item search in the parts a store's index
// walks in order: the stores' shared plan for keyset paging and the
// chronological order (docs/QEDM.md), each part one range of items_find.
package itemparts

import carnet "github.com/carnet-sante/carnet"

// Part is which of a search's items one statement reads: every one, in the
// default order, or the dated ones, or those of unknown time.
type Part uint8

const (
	All Part = iota
	Dated
	Undated
)

// Read reads f's items through read, one statement per part: all of them
// at once when the search neither starts after a position nor asks for
// the chronological order; else the dated ones, then (when the search has
// no date condition and the page is not full) those of unknown time. read
// gets the part and the most rows to return (0: no limit).
func Read(f carnet.ItemFilter, read func(p Part, limit int) ([]carnet.ItemRow, error)) ([]carnet.ItemRow, error) {
	if f.After == nil && !f.Chronological {
		return read(All, f.Limit)
	}
	var out []carnet.ItemRow
	if f.After == nil || !f.After.Effective.IsZero() {
		rows, err := read(Dated, f.Limit)
		if err != nil {
			return nil, err
		}
		out = rows
	}
	if f.Effective.IsZero() && (f.Limit <= 0 || len(out) < f.Limit) {
		limit := 0
		if f.Limit > 0 {
			limit = f.Limit - len(out)
		}
		rows, err := read(Undated, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}
