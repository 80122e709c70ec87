// Package netguard holds the in-memory, per-request part of Skjold's IP rules and threat
// blocking: parsing block and allow lists (ParseList, ParsePrefix), matching addresses against
// them (Set), the block list and bans checked on every request (Guard), counting failures with
// escalating bans (Tracker) and turning security events into bans (Detector).
//
// It keeps no state on disk: the caller loads lists and bans from the database into a Guard
// with Replace, and stores the bans a Detector decides before applying them with Guard.Ban.
// Time is always passed in.
package netguard

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Guard is the per-process block state checked on every request: the operator's block list
// and the current bans. Blocked reads an immutable snapshot through an atomic pointer, so the
// request path takes no lock and allocates nothing; writers build a new snapshot and swap it
// in. The zero Guard blocks nothing and is ready to use; a Guard must not be copied.
type Guard struct {
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises writers, so that no update is lost between load and store
}

// snapshot is one immutable state of a Guard; it is never modified once stored.
type snapshot struct {
	blocked *Set
	bans    map[netip.Addr]time.Time // normalised address → end of its ban
}

// Blocked reports whether addr is in the block list or banned until after now. IPv4-mapped
// IPv6 addresses count as IPv4, and a zone is ignored.
func (g *Guard) Blocked(addr netip.Addr, now time.Time) bool {
	s := g.snap.Load()
	if s == nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	if s.blocked.Contains(addr) {
		return true
	}
	until, ok := s.bans[addr]
	return ok && until.After(now)
}

// Replace swaps in a new block list and set of bans (address → end of ban), as loaded from
// the database. It is authoritative: bans added with Ban and not in bans are dropped, so the
// caller stores a ban before, or together with, calling Ban. Invalid addresses are ignored;
// neither argument is kept, so the caller may reuse them.
func (g *Guard) Replace(blockList []netip.Prefix, bans map[netip.Addr]time.Time) {
	s := &snapshot{blocked: NewSet(blockList), bans: make(map[netip.Addr]time.Time, len(bans))}
	for a, until := range bans {
		if a = normalAddr(a); a.IsValid() {
			s.bans[a] = later(s.bans[a], until)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.snap.Store(s)
}

// Ban bans addr until the given time, at once and in this process only. If addr is already
// banned, the later end wins. The invalid Addr is ignored. It copies the ban map, so it costs
// O(bans); bans are rare next to requests.
func (g *Guard) Ban(addr netip.Addr, until time.Time) {
	if addr = normalAddr(addr); !addr.IsValid() {
		return
	}
	g.update(func(old map[netip.Addr]time.Time) map[netip.Addr]time.Time {
		bans := make(map[netip.Addr]time.Time, len(old)+1)
		for a, u := range old {
			bans[a] = u
		}
		bans[addr] = later(bans[addr], until)
		return bans
	})
}

// Unban lifts addr's ban in this process, if it has one. It does not touch the block list.
func (g *Guard) Unban(addr netip.Addr) {
	addr = normalAddr(addr)
	g.update(func(old map[netip.Addr]time.Time) map[netip.Addr]time.Time {
		if _, ok := old[addr]; !ok {
			return nil
		}
		bans := make(map[netip.Addr]time.Time, len(old))
		for a, u := range old {
			if a != addr {
				bans[a] = u
			}
		}
		return bans
	})
}

// Prune forgets the bans that end at or before now, so that the map does not grow with every
// address ever banned, and returns how many it dropped. Call it now and then, for example
// from the job that reloads the lists.
func (g *Guard) Prune(now time.Time) int {
	n := 0
	g.update(func(old map[netip.Addr]time.Time) map[netip.Addr]time.Time {
		bans := make(map[netip.Addr]time.Time, len(old))
		for a, u := range old {
			if u.After(now) {
				bans[a] = u
			}
		}
		if n = len(old) - len(bans); n == 0 {
			return nil
		}
		return bans
	})
	return n
}

// update stores a snapshot with the same block list and the ban map that f makes from the
// current one. f must not modify its argument; it returns nil to leave the Guard unchanged.
func (g *Guard) update(f func(map[netip.Addr]time.Time) map[netip.Addr]time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.snap.Load()
	if old == nil {
		old = &snapshot{}
	}
	if bans := f(old.bans); bans != nil {
		g.snap.Store(&snapshot{blocked: old.blocked, bans: bans})
	}
}

// Allowed reports whether addr passes the allow list allow: an empty or nil list allows every
// address, and any other allows only the addresses it contains. A Set built only from invalid
// prefixes is empty, so the caller checks that a configured list parsed to something.
func Allowed(allow *Set, addr netip.Addr) bool {
	return allow.Len() == 0 || allow.Contains(addr)
}

// normalAddr returns a as it is stored in a ban map: unmapped and without a zone.
func normalAddr(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
