package seal

import (
	"container/list"
	"sync"

	"github.com/carnet-sante/carnet"
)

// keyCache keeps the unwrapped data keys of the most recently used
// patients, so that the hot path reads no store and unwraps nothing. It is
// bounded: a server sees millions of patients, it keeps only a working set.
type keyCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used; values are *cacheEntry
	items map[carnet.PatientKey]*list.Element
	// gen counts removals: keys read from the store before a removal
	// (a shredding or rotation seen from another process) must not be
	// cached after it (putIfGen).
	gen uint64
}

type cacheEntry struct {
	p    carnet.PatientKey
	keys *patientKeys
}

func newKeyCache(max int) *keyCache {
	if max < 1 {
		max = 1
	}
	return &keyCache{max: max, order: list.New(), items: make(map[carnet.PatientKey]*list.Element)}
}

func (c *keyCache) get(p carnet.PatientKey) *patientKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.items[p]
	if e == nil {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).keys
}

// generation is the count of removals so far, for putIfGen.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// putIfGen caches keys read from the store when no removal happened since
// generation returned gen: otherwise they may be keys just shredded.
func (c *keyCache) putIfGen(p carnet.PatientKey, keys *patientKeys, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.putLocked(p, keys)
}

func (c *keyCache) put(p carnet.PatientKey, keys *patientKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(p, keys)
}

func (c *keyCache) putLocked(p carnet.PatientKey, keys *patientKeys) {
	if e := c.items[p]; e != nil {
		e.Value.(*cacheEntry).keys = keys
		c.order.MoveToFront(e)
		return
	}
	c.items[p] = c.order.PushFront(&cacheEntry{p: p, keys: keys})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).p)
	}
}

func (c *keyCache) remove(p carnet.PatientKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e := c.items[p]; e != nil {
		c.order.Remove(e)
		delete(c.items, p)
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
