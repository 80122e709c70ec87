package netguard

import (
	"container/list"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"time"
)

// Config sets how a Tracker counts failures and bans. A zero or negative field takes its
// default.
type Config struct {
	Threshold int           // failures within Window that cause a ban; default 10
	Window    time.Duration // how long a failure counts; default 10 min
	BaseBan   time.Duration // the first ban; default 15 min
	MaxBan    time.Duration // the cap on escalated bans; default 24 h, at least BaseBan
	Remember  time.Duration // how long after a ban ends a new one still escalates; default 24 h
	MaxKeys   int           // keys tracked at once, the least recently failed evicted; default 100,000
}

// withDefaults returns c with defaults in place of unset fields.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Threshold <= 0 {
		c.Threshold = 10
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100_000
	}
	def(&c.Window, 10*time.Minute)
	def(&c.BaseBan, 15*time.Minute)
	def(&c.MaxBan, 24*time.Hour)
	def(&c.Remember, 24*time.Hour)
	c.MaxBan = max(c.MaxBan, c.BaseBan)
	return c
}

// numSlots is the number of time slots a Tracker splits its window into.
const numSlots = 16

// Tracker counts failures per key (an address or an account) within a sliding window and
// decides bans, doubling the ban for a key that offends again soon after its last one. It is
// safe for concurrent use.
//
// To keep memory per key fixed whatever the threshold, the window is counted in 16 slots of
// Window/16: a failure counts for at least 15/16 of Window and never longer than Window.
// At most MaxKeys keys are tracked, about 200 bytes each plus the key; when full, the key that
// failed least recently is forgotten, and keys with nothing left to remember are dropped as
// new failures come in.
type Tracker struct {
	cfg   Config
	width int64 // of a slot, in nanoseconds

	mu   sync.Mutex
	keys map[string]*list.Element // of *tracked
	lru  *list.List               // most recently failed at the front
}

// tracked is the state of one key.
type tracked struct {
	key     string
	slots   [numSlots]uint32 // failures per slot, at slotIndex(slot)
	last    int64            // the slot of the latest failure
	strikes int              // bans in the current escalation, 0 if none
	banEnd  int64            // end of the latest ban, in Unix nanoseconds
}

// NewTracker returns an empty Tracker with cfg's settings, defaults filled in.
func NewTracker(cfg Config) *Tracker {
	cfg = cfg.withDefaults()
	return &Tracker{
		cfg:   cfg,
		width: max(int64(cfg.Window/numSlots), 1),
		keys:  make(map[string]*list.Element),
		lru:   list.New(),
	}
}

// Config returns the Tracker's settings, defaults filled in.
func (t *Tracker) Config() Config { return t.cfg }

// Fail records a failure for key at now. When it brings the failures within the window to
// Threshold, it returns the ban to apply and true, and the count starts again from zero.
// The first ban is BaseBan; a ban that starts within Remember of the end of the key's
// previous one is twice as long as that one, up to MaxBan. A clock that goes backwards
// counts as standing still.
func (t *Tracker) Fail(key string, now time.Time) (ban time.Duration, banned bool) {
	ban, strikes := t.fail(key, now)
	return ban, strikes > 0
}

// fail is Fail, reporting the ban's place in its escalation (1 for a first ban, 0 for none).
func (t *Tracker) fail(key string, now time.Time) (ban time.Duration, strikes int) {
	s := t.slot(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropStale(now)
	return t.step(t.touch(key, s), now)
}

// step records a failure at now in e, as fail describes.
func (t *Tracker) step(e *tracked, now time.Time) (ban time.Duration, strikes int) {
	s := max(t.slot(now), e.last)
	e.advance(s)
	if e.slots[slotIndex(s)] < math.MaxUint32 {
		e.slots[slotIndex(s)]++
	}
	if e.count(s) < t.cfg.Threshold {
		return 0, 0
	}
	ban = t.escalate(e, now.UnixNano())
	e.slots = [numSlots]uint32{}
	return ban, e.strikes
}

// escalate records a ban of e starting at now (Unix nanoseconds) and returns its length:
// BaseBan, or twice the previous ban up to MaxBan while e's last ban is remembered.
func (t *Tracker) escalate(e *tracked, now int64) time.Duration {
	if e.remembers(now, t.cfg.Remember) {
		e.strikes = min(e.strikes+1, 64)
	} else {
		e.strikes = 1
	}
	ban := t.cfg.BaseBan
	for i := 1; i < e.strikes && ban < t.cfg.MaxBan; i++ {
		if ban > t.cfg.MaxBan/2 { // doubling would pass the cap, or overflow
			ban = t.cfg.MaxBan
		} else {
			ban *= 2
		}
	}
	e.banEnd = addSat(now, int64(ban))
	return ban
}

// Count returns the failures of key that still count at now.
func (t *Tracker) Count(key string, now time.Time) int {
	s := t.slot(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.keys[key]
	if !ok {
		return 0
	}
	e := el.Value.(*tracked)
	return e.count(max(s, e.last))
}

// Reset forgets key: its failures and its escalation. Call it for an account key after a
// successful login; not for an address key, or an attacker holding an account of their own
// could clear their address's count by logging in to it between guesses.
func (t *Tracker) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.keys[key]; ok {
		t.remove(el)
	}
}

// Len returns the number of keys tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// slot returns the number of the slot that holds time now.
func (t *Tracker) slot(now time.Time) int64 {
	n := now.UnixNano()
	s := n / t.width
	if n%t.width < 0 { // round towards minus infinity before 1970
		s--
	}
	return s
}

// touch returns key's state, created if need be, and marks it most recently failed. A new
// key evicts the least recently failed one when MaxKeys are tracked.
func (t *Tracker) touch(key string, s int64) *tracked {
	if el, ok := t.keys[key]; ok {
		t.lru.MoveToFront(el)
		return el.Value.(*tracked)
	}
	for len(t.keys) >= t.cfg.MaxKeys {
		t.remove(t.lru.Back())
	}
	e := &tracked{key: key, last: s}
	t.keys[key] = t.lru.PushFront(e)
	return e
}

// dropStale drops up to two least recently failed keys that have neither a failure in the
// window nor an escalation to remember, so that idle keys do not wait for eviction.
func (t *Tracker) dropStale(now time.Time) {
	s, nowNano := t.slot(now), now.UnixNano()
	for range 2 {
		el := t.lru.Back()
		if el == nil {
			return
		}
		e := el.Value.(*tracked)
		if s-e.last < numSlots || e.remembers(nowNano, t.cfg.Remember) {
			return
		}
		t.remove(el)
	}
}

func (t *Tracker) remove(el *list.Element) {
	delete(t.keys, el.Value.(*tracked).key)
	t.lru.Remove(el)
}

// advance clears the slots between the latest failure and slot s, which have gone out of the
// window, and makes s the latest. s must not be before e.last.
func (e *tracked) advance(s int64) {
	if s-e.last >= numSlots {
		e.slots = [numSlots]uint32{}
	} else {
		for i := e.last + 1; i <= s; i++ {
			e.slots[slotIndex(i)] = 0
		}
	}
	e.last = s
}

// count returns the failures in slots s-numSlots+1 … s, the window at slot s. s must not be
// before e.last; the slots after e.last are empty.
func (e *tracked) count(s int64) int {
	n := 0
	for i := s - numSlots + 1; i <= e.last; i++ {
		n += int(e.slots[slotIndex(i)])
	}
	return n
}

// remembers reports whether e has a ban that ended no more than remember before now.
func (e *tracked) remembers(now int64, remember time.Duration) bool {
	return e.strikes > 0 && now <= addSat(e.banEnd, int64(remember))
}

// addSat returns a+b for b >= 0, or the largest int64 if that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// slotIndex returns where slot s lives in tracked.slots: s mod numSlots, also for s < 0.
func slotIndex(s int64) int {
	return int(uint64(s) % numSlots)
}

// Delay returns how long an account must wait before its next login attempt after the given
// number of consecutive failures: nothing for the first 4, then 1 minute after the 5th,
// doubling with each further failure (2, 4, 8, 16, 32 minutes) and capped at 1 hour from the
// 11th on.
func Delay(failures int) time.Duration {
	const free, maxDelay = 4, time.Hour
	if failures <= free {
		return 0
	}
	if failures-free > 7 { // 1 min << 6 = 64 min is already over the cap
		return maxDelay
	}
	return min(time.Minute<<(failures-free-1), maxDelay)
}

// TrackState is the state of one key of a Tracker kept outside it, by a store that several
// processes share (see Detector.Shared): the failures per slot of the window and the ban
// escalation. Its zero value is a key with no history.
type TrackState struct{ e tracked }

// trackStateLen is the length of a marshalled TrackState.
const trackStateLen = 4*numSlots + 8 + 8 + 8

// MarshalBinary encodes the state in a fixed 88 bytes.
func (st *TrackState) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, trackStateLen)
	for _, n := range st.e.slots {
		b = binary.BigEndian.AppendUint32(b, n)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(st.e.last))
	b = binary.BigEndian.AppendUint64(b, uint64(st.e.strikes))
	return binary.BigEndian.AppendUint64(b, uint64(st.e.banEnd)), nil
}

// UnmarshalBinary decodes what MarshalBinary made.
func (st *TrackState) UnmarshalBinary(b []byte) error {
	if len(b) != trackStateLen {
		return errors.New("netguard: a tracker state is 88 bytes")
	}
	for i := range st.e.slots {
		st.e.slots[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	b = b[4*numSlots:]
	st.e.last = int64(binary.BigEndian.Uint64(b))
	st.e.strikes = int(min(binary.BigEndian.Uint64(b[8:]), 64))
	st.e.banEnd = int64(binary.BigEndian.Uint64(b[16:]))
	return nil
}

// Idle reports whether st has neither a failure within the window at now nor a ban
// escalation to remember: a store may then forget it.
func (t *Tracker) Idle(st *TrackState, now time.Time) bool {
	return t.slot(now)-st.e.last >= numSlots && !st.e.remembers(now.UnixNano(), t.cfg.Remember)
}
