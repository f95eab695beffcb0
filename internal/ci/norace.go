//go:build !race

package ci

// Race is true in a build with the race detector, where every request
// costs several times more: end-to-end tests size their load by it.
const Race = false
