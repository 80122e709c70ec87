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
	"slices"
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
	bans    map[netip.Prefix]time.Time // normalised prefix → end of its ban
	len4    []int                      // the lengths of the IPv4 prefixes in bans
	len6    []int                      // the lengths of the IPv6 prefixes in bans
}

// Blocked reports whether addr is in the block list or in a prefix banned until after now.
// IPv4-mapped IPv6 addresses count as IPv4, and a zone is ignored.
func (g *Guard) Blocked(addr netip.Addr, now time.Time) bool {
	s := g.snap.Load()
	if s == nil {
		return false
	}
	addr = normalAddr(addr)
	if s.blocked.Contains(addr) {
		return true
	}
	lengths := s.len4
	if addr.Is6() {
		lengths = s.len6
	}
	for _, n := range lengths {
		p, _ := addr.Prefix(n) // n is within the address's length
		if until, ok := s.bans[p]; ok && until.After(now) {
			return true
		}
	}
	return false
}

// Replace swaps in a new block list and set of bans (prefix → end of ban; a single address is
// a /32 or /128), as loaded from the database. It is authoritative: bans added with Ban and
// not in bans are dropped, so the caller stores a ban before, or together with, calling Ban.
// Invalid prefixes are ignored; neither argument is kept, so the caller may reuse them.
func (g *Guard) Replace(blockList []netip.Prefix, bans map[netip.Prefix]time.Time) {
	m := make(map[netip.Prefix]time.Time, len(bans))
	for p, until := range bans {
		if p, ok := normalize(p); ok {
			m[p] = later(m[p], until)
		}
	}
	s := newSnapshot(NewSet(blockList), m)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.snap.Store(s)
}

// Ban bans every address in p until the given time, at once and in this process only. If p
// is already banned, the later end wins. The invalid Prefix is ignored. It copies the ban
// map, so it costs O(bans); bans are rare next to requests.
func (g *Guard) Ban(p netip.Prefix, until time.Time) {
	p, ok := normalize(p)
	if !ok {
		return
	}
	g.update(func(old map[netip.Prefix]time.Time) map[netip.Prefix]time.Time {
		bans := make(map[netip.Prefix]time.Time, len(old)+1)
		for q, u := range old {
			bans[q] = u
		}
		bans[p] = later(bans[p], until)
		return bans
	})
}

// Unban lifts p's ban in this process, if it has one. It does not touch the block list, nor
// bans of prefixes that contain p or that p contains.
func (g *Guard) Unban(p netip.Prefix) {
	p, ok := normalize(p)
	if !ok {
		return
	}
	g.update(func(old map[netip.Prefix]time.Time) map[netip.Prefix]time.Time {
		if _, ok := old[p]; !ok {
			return nil
		}
		bans := make(map[netip.Prefix]time.Time, len(old))
		for q, u := range old {
			if q != p {
				bans[q] = u
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
	g.update(func(old map[netip.Prefix]time.Time) map[netip.Prefix]time.Time {
		bans := make(map[netip.Prefix]time.Time, len(old))
		for p, u := range old {
			if u.After(now) {
				bans[p] = u
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
func (g *Guard) update(f func(map[netip.Prefix]time.Time) map[netip.Prefix]time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.snap.Load()
	if old == nil {
		old = &snapshot{}
	}
	if bans := f(old.bans); bans != nil {
		g.snap.Store(newSnapshot(old.blocked, bans))
	}
}

// newSnapshot returns a snapshot of blocked and bans, with the ban lengths to look up.
func newSnapshot(blocked *Set, bans map[netip.Prefix]time.Time) *snapshot {
	s := &snapshot{blocked: blocked, bans: bans}
	for p := range bans {
		if p.Addr().Is4() {
			s.len4 = append(s.len4, p.Bits())
		} else {
			s.len6 = append(s.len6, p.Bits())
		}
	}
	slices.Sort(s.len4)
	slices.Sort(s.len6)
	s.len4, s.len6 = slices.Compact(s.len4), slices.Compact(s.len6)
	return s
}

// Allowed reports whether addr passes the allow list allow: an empty or nil list allows every
// address, and any other allows only the addresses it contains. A Set built only from invalid
// prefixes is empty, so the caller checks that a configured list parsed to something.
func Allowed(allow *Set, addr netip.Addr) bool {
	return allow.Len() == 0 || allow.Contains(addr)
}

// normalAddr returns a as addresses are compared: unmapped and without a zone.
func normalAddr(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
