package store

import (
	"database/sql"
	"sync"
)

// maxCachedStatements bounds each statement cache. Every query the store runs is a constant
// or built from a few optional clauses, so the bound is not reached in practice; past it,
// queries simply run unprepared.
const maxCachedStatements = 256

// stmtCache keeps prepared statements by query text. modernc's SQLite driver compiles the
// SQL of every call anew, which cost about 15 % of the server's CPU under load; a prepared
// statement is compiled once per connection. pgx caches prepared statements by itself, so
// PostgreSQL runs without this cache (a nil *stmtCache).
type stmtCache struct {
	pool *sql.DB

	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // queries to prepare when the pool's connection is free (writer)
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement for q, or nil if there is none yet.
func (c *stmtCache) get(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q]
}

// prepare prepares q on the pool and caches it. It returns nil when q should run unprepared:
// the cache is full, or preparing failed (running the query then reports the error).
func (c *stmtCache) prepare(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	s, ok := c.stmts[q]
	full := len(c.stmts) >= maxCachedStatements
	c.mu.Unlock()
	if ok || full {
		return s
	}
	s, err := c.pool.Prepare(q) // outside the lock: it may wait for a free connection
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[q]; ok { // prepared by another goroutine meanwhile
		s.Close()
		return old
	}
	c.stmts[q] = s
	return s
}

// want notes q for prepareWanted. The writer calls it for queries it runs inside a
// transaction, which holds the pool's only connection, so that it cannot prepare there.
func (c *stmtCache) want(q string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[q] = true
	}
}

// prepareWanted prepares the queries noted by want. The writer calls it between
// transactions, when its connection is free.
func (c *stmtCache) prepareWanted() {
	if c == nil {
		return
	}
	c.mu.Lock()
	wanted := make([]string, 0, len(c.pending))
	for q := range c.pending {
		wanted = append(wanted, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range wanted {
		c.prepare(q)
	}
}

// close closes every cached statement; the pool is closed by its owner.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
