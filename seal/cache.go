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

func (c *keyCache) put(p carnet.PatientKey, keys *patientKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
