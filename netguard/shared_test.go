package netguard

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// memShared is a SharedState in memory that keeps states marshalled, as a database would.
type memShared struct {
	mu     sync.Mutex
	states map[string][]byte
	fail   bool
}

func (m *memShared) UpdateWindow(_ context.Context, rule, key string, step func(*TrackState)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("database down")
	}
	var st TrackState
	if b, ok := m.states[rule+" "+key]; ok {
		if err := st.UnmarshalBinary(b); err != nil {
			return err
		}
	}
	step(&st)
	b, _ := st.MarshalBinary()
	if m.states == nil {
		m.states = map[string][]byte{}
	}
	m.states[rule+" "+key] = b
	return nil
}

// Three detectors sharing one state ban, and escalate, exactly as one detector does when the
// events are spread round-robin over them.
func TestDetectorSharedState(t *testing.T) {
	shared := &memShared{}
	var nodes []*Detector
	for range 3 {
		d := NewDetector(DetectorConfig{})
		d.Shared = shared
		nodes = append(nodes, d)
	}
	one := NewDetector(DetectorConfig{})
	addr := netip.MustParseAddr("203.0.113.9")
	now := t0
	for i := range 45 {
		e := Event{KindLoginFailed, addr, now}
		got, want := nodes[i%3].Observe(e), one.Observe(e)
		if len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
			t.Fatalf("event %d: shared detectors ban %v, one detector %v", i+1, got, want)
		}
		if (i+1)%10 == 0 && len(got) == 0 {
			t.Fatalf("event %d: no ban after 10 failures", i+1)
		}
		now = now.Add(10 * time.Second)
	}

	// A shared store that cannot be reached leaves counting to each node, without failing.
	shared.fail = true
	var errs int
	nodes[1].OnSharedError = func(error) { errs++ }
	for range 10 {
		nodes[1].Observe(Event{KindLoginFailed, netip.MustParseAddr("198.51.100.1"), now})
	}
	if errs != 10 {
		t.Errorf("OnSharedError heard %d errors, want 10", errs)
	}
}

func TestTrackStateRoundTrip(t *testing.T) {
	tr := NewTracker(Config{})
	var st TrackState
	for range 12 {
		tr.step(&st.e, t0)
	}
	b, err := st.MarshalBinary()
	if err != nil || len(b) != 88 {
		t.Fatalf("MarshalBinary: %d bytes, %v", len(b), err)
	}
	var back TrackState
	if err := back.UnmarshalBinary(b); err != nil || back != st {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, st)
	}
	if back.UnmarshalBinary(b[:10]) == nil {
		t.Error("a short state decoded")
	}
	if tr.Idle(&st, t0) || !tr.Idle(&st, t0.Add(49*time.Hour)) {
		t.Error("Idle: a state with a fresh ban is not idle, one 49 h old is")
	}
}
