package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

// TestSharedState checks the state that several nodes on one database share [B11, E1]:
// lockouts of addresses without an account and the detectors' windows count across nodes
// exactly as on one, and job leases give a job to one node at a time, handed over when the
// holder stops renewing; a backup run whose node died is taken over once and alerted.
func TestSharedState(t *testing.T, h Harness) {
	t.Run("UnknownLockoutAcrossNodes", func(t *testing.T) { testUnknownLockoutAcrossNodes(t, h) })
	t.Run("DetectorAcrossNodes", func(t *testing.T) { testDetectorAcrossNodes(t, h) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, h) })
	t.Run("StalledBackupRun", func(t *testing.T) { testStalledBackupRun(t, h) })
}

// testUnknownLockoutAcrossNodes alternates failed logins for a known and an unknown address
// between two handles of one database, as a round-robin load balancer would: both lock out
// at the fifth failure with the same answers, as they do on one node.
func testUnknownLockoutAcrossNodes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	second := h.Reopen(t, e.db, e.options(e.keys))
	u := &skjold.User{Email: "agent@op.example", Name: "Agnes", Role: skjold.RoleSupport}
	e.activeUser(e.staff(), u)
	nodes := []interface {
		Login(context.Context, skjold.Login) (*skjold.Session, *skjold.Identity, error)
	}{e.db, second}
	for i := range 7 {
		var answers [2]error
		for j, addr := range []string{u.Email, "nobody@op.example"} {
			_, _, answers[j] = nodes[(i+j)%2].Login(e.anon(), skjold.Login{Email: addr, Password: "not-the-Password-1"})
		}
		want := skjold.EUNAUTHORIZED
		if i >= 5 {
			want = skjold.ETOOMANY // the fifth failure locked both for a minute
		}
		for j, err := range answers {
			if skjold.ErrorCode(err) != want {
				t.Errorf("attempt %d for the %s address: %v, want %s", i+1, []string{"known", "unknown"}[j], err, want)
			}
		}
		if skjold.ErrorMessage(answers[0]) != skjold.ErrorMessage(answers[1]) {
			t.Errorf("attempt %d: known %v, unknown %v; they must be alike", i+1, answers[0], answers[1])
		}
	}
	// Past the lock both count on: the sixth failure locks for two minutes.
	e.clock.Add(61 * time.Second)
	for j, addr := range []string{u.Email, "nobody@op.example"} {
		_, _, err := nodes[j].Login(e.anon(), skjold.Login{Email: addr, Password: "not-the-Password-1"})
		wantCode(t, err, skjold.EUNAUTHORIZED)
	}
	e.clock.Add(61 * time.Second)
	for j, addr := range []string{u.Email, "nobody@op.example"} {
		_, _, err := nodes[1-j].Login(e.anon(), skjold.Login{Email: addr, Password: "not-the-Password-1"})
		wantCode(t, err, skjold.ETOOMANY)
	}
	// The table keeps a hash of the address, never the address; a day idle forgets it.
	e.clock.Add(25 * time.Hour)
	n, err := e.db.PruneSharedState(t.Context())
	must(t, err)
	if n != 1 {
		t.Errorf("PruneSharedState dropped %d rows, want the one unknown address", n)
	}
}

// testDetectorAcrossNodes feeds failed logins from one address to two detectors, each on its
// own handle of the database, alternately: the tenth bans, as on one node, and the state of
// concurrent events is not lost.
func testDetectorAcrossNodes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	second := h.Reopen(t, e.db, e.options(e.keys))
	var nodes []*netguard.Detector
	for _, db := range []netguard.SharedState{e.db, second} {
		d := netguard.NewDetector(netguard.DetectorConfig{})
		d.Shared = db
		d.OnSharedError = func(err error) { t.Errorf("shared detector state: %v", err) }
		nodes = append(nodes, d)
	}
	addr := netip.MustParseAddr("203.0.113.9")
	for i := range 10 {
		bans := nodes[i%2].Observe(netguard.Event{Kind: netguard.KindLoginFailed, Addr: addr, Time: e.clock.Now()})
		if (len(bans) > 0) != (i == 9) {
			t.Fatalf("event %d: bans %v; want a ban at the tenth only", i+1, bans)
		}
		if i == 9 && (bans[0].For != 15*time.Minute || bans[0].Prefix != netip.MustParsePrefix("203.0.113.9/32")) {
			t.Errorf("ban %+v, want 203.0.113.9/32 for 15 minutes", bans[0])
		}
	}
	// Twenty events at once, ten through each handle, from another address: exactly two bans.
	other := netip.MustParseAddr("198.51.100.4")
	var banned atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if b := nodes[i%2].Observe(netguard.Event{Kind: netguard.KindLoginFailed, Addr: other, Time: e.clock.Now()}); len(b) > 0 {
				banned.Add(1)
			}
		})
	}
	wg.Wait()
	if n := banned.Load(); n != 2 {
		t.Errorf("20 concurrent failures over two nodes banned %d times, want 2", n)
	}
	e.clock.Add(73 * time.Hour)
	n, err := e.db.PruneSharedState(t.Context())
	must(t, err)
	if n != 2 {
		t.Errorf("PruneSharedState dropped %d idle windows, want 2", n)
	}
}

// testLeases: of several nodes asking at once, one holds a job's lease; it keeps it by
// renewing; another takes it over only once it has expired, or at once when released.
func testLeases(t *testing.T, h Harness) {
	e := newEnv(t, h)
	second := h.Reopen(t, e.db, e.options(e.keys))
	const ttl = 30 * time.Second
	var held atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		db := e.db
		if i%2 == 1 {
			db = second
		}
		wg.Go(func() {
			ok, err := db.AcquireLease(t.Context(), "retention", fmt.Sprintf("node-%d", i), ttl)
			if err != nil {
				t.Errorf("AcquireLease: %v", err)
			}
			if ok {
				held.Add(1)
			}
		})
	}
	wg.Wait()
	if n := held.Load(); n != 1 {
		t.Fatalf("%d nodes hold the lease, want 1", n)
	}
	leases, err := e.db.Leases(t.Context())
	must(t, err)
	if len(leases) != 1 {
		t.Fatalf("leases = %+v", leases)
	}
	holder := leases[0].Holder
	other := "node-x"
	acquire := func(db interface {
		AcquireLease(context.Context, string, string, time.Duration) (bool, error)
	}, who string, want bool) {
		t.Helper()
		ok, err := db.AcquireLease(t.Context(), "retention", who, ttl)
		must(t, err)
		if ok != want {
			t.Errorf("AcquireLease(%s) at %v = %v, want %v", who, e.clock.Now().Sub(epoch), ok, want)
		}
	}
	e.clock.Add(20 * time.Second)
	acquire(second, other, false)
	acquire(e.db, holder, true) // renewed: now valid 30 s from here
	e.clock.Add(20 * time.Second)
	acquire(second, other, false)
	must(t, e.db.LeaseRan(t.Context(), "retention", holder, e.clock.Now()))
	e.clock.Add(11 * time.Second) // the holder fell silent: its lease has expired
	acquire(second, other, true)
	acquire(e.db, holder, false)
	leases, err = second.Leases(t.Context())
	must(t, err)
	if leases[0].Holder != other || !leases[0].LastRun.Equal(e.clock.Now().Add(-11*time.Second)) {
		t.Errorf("lease after takeover = %+v", leases[0])
	}
	must(t, second.ReleaseLease(t.Context(), "retention", other))
	acquire(e.db, holder, true)
	if _, err := e.db.AcquireLease(t.Context(), "", holder, ttl); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("a lease without a name: %v, want EINVALID", err)
	}
}

// testStalledBackupRun: a claimed run whose node stops renewing it is taken over by exactly
// one node, with a backup.stalled event; a renewed one is not; a missed slot is known.
func testStalledBackupRun(t *testing.T, h Harness) {
	e := newEnv(t, h)
	second := h.Reopen(t, e.db, e.options(e.keys))
	slot := "backup@2026-11-23T03:00:00Z"
	ok, err := e.db.ClaimBackupRun(t.Context(), slot)
	must(t, err)
	if !ok {
		t.Fatal("claim refused")
	}
	e.clock.Add(time.Minute)
	must(t, e.db.RenewBackupRun(t.Context(), slot))
	e.clock.Add(time.Minute + 30*time.Second)
	if s, ok, err := second.ReclaimStalledRun(t.Context(), skjold.RunBackup); err != nil || ok {
		t.Fatalf("a renewed run was reclaimed: %q %v %v", s, ok, err)
	}
	base := e.lastSeq()
	e.clock.Add(time.Minute) // no renewal for 2.5 minutes: the node died
	var got atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		db := e.db
		if i%2 == 1 {
			db = second
		}
		wg.Go(func() {
			s, ok, err := db.ReclaimStalledRun(t.Context(), skjold.RunBackup)
			if err != nil {
				t.Errorf("ReclaimStalledRun: %v", err)
			}
			if ok {
				got.Add(1)
				if s != slot {
					t.Errorf("reclaimed %q, want %q", s, slot)
				}
			}
		})
	}
	wg.Wait()
	if n := got.Load(); n != 1 {
		t.Fatalf("the stalled run was reclaimed %d times, want once", n)
	}
	if _, ok, _ := e.db.ReclaimStalledRun(t.Context(), skjold.RunDrill); ok {
		t.Error("a drill was reclaimed; only a backup stalled")
	}
	evs := e.events(base)
	if len(evs) != 1 || evs[0].Action != "backup.stalled" || evs[0].Fields[0] != "run:"+slot {
		t.Errorf("events = %+v, want one backup.stalled", evs)
	}
	must(t, e.db.FinishBackupRun(t.Context(), slot, "backup.completed", &skjold.BackupRun{Status: skjold.RunOK}))
	e.clock.Add(time.Hour)
	has, before, err := e.db.HasBackupRun(t.Context(), slot, e.clock.Now())
	must(t, err)
	if !has || !before {
		t.Errorf("HasBackupRun(done slot) = %v, %v", has, before)
	}
	has, before, err = e.db.HasBackupRun(t.Context(), "backup@2026-11-24T03:00:00Z", e.clock.Now())
	must(t, err)
	if has || !before {
		t.Errorf("HasBackupRun(missed slot) = %v, %v; want not run, with an earlier run", has, before)
	}
	if _, before, _ = e.db.HasBackupRun(t.Context(), "drill@2026-11-24T03:00:00Z", e.clock.Now()); before {
		t.Error("HasBackupRun finds an earlier drill on a database that never ran one")
	}
}
