package store

import (
	"sync"
	"time"
)

// recentTTL is how long a node may answer from what it read recently. Changes made through
// this node clear its caches at once; a change made by another node sharing a PostgreSQL
// database reaches this one within recentTTL.
const recentTTL = time.Second

// maxRecent bounds each cache; a full cache starts over.
const maxRecent = 10_000

// recent caches values read from the database for recentTTL, so that the lookups every
// request makes (its token, the category of the record it reads) do not each cost a query.
// Cached values are shared: callers must not modify them.
type recent[V any] struct {
	mu      sync.Mutex
	entries map[string]recentEntry[V]
	gen     uint64 // counts clears, so that a value read before a clear is not cached after it
}

type recentEntry[V any] struct {
	v       V
	expires time.Time
}

// get returns the cached value for key, if it is fresh, and the generation to pass to put
// when the value has to be read from the database.
func (c *recent[V]) get(key string) (V, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		var zero V
		return zero, c.gen, false
	}
	return e.v, c.gen, true
}

// put caches v under key, unless the cache was cleared since get returned gen: then v may
// predate the change that cleared it.
func (c *recent[V]) put(key string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxRecent {
		c.entries = make(map[string]recentEntry[V])
	}
	c.entries[key] = recentEntry[V]{v: v, expires: time.Now().Add(recentTTL)}
}

// clear forgets every value; the caller has just changed what they were read from.
func (c *recent[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}
