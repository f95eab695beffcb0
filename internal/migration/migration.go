// Package migration reads a Store's embedded schema migrations: files named
// NNNN_what.sql, numbered from 1, in increasing order. Numbers may leave
// gaps: branches developed side by side are given their numbers in advance,
// and a database records each version it applied, so a lower number merged
// later is still applied. Each Store applies them its
// own way (SQLite per IMMEDIATE transaction, PostgreSQL under an advisory
// lock); reading and checking them is the same for both.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string // the file name, e.g. 0002_items.sql
	SQL     string
}

// Load returns the migrations of dir in fsys, in order.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if i > 0 && m.Version == ms[i-1].Version {
			return nil, fmt.Errorf("migration %s: version %d used twice", m.Name, m.Version)
		}
	}
	return ms, nil
}

// Newest returns the highest version of ms, 0 for none: a database whose
// schema is newer was written by a newer program.
func Newest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
