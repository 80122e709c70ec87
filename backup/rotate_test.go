package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// at returns a time in loc on November 2026.
func at(loc *time.Location, day, hour, min int) time.Time {
	return time.Date(2026, 11, day, hour, min, 0, 0, loc)
}

// manifest returns a manifest for a backup taken at t, with an id in NewID's shape.
func manifest(t time.Time, n int) *skjold.Manifest {
	return &skjold.Manifest{ID: fmt.Sprintf("%s-%08x", t.UTC().Format("20060102T150405Z"), n), Time: t.UTC()}
}

func ids(ms ...*skjold.Manifest) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	utc := time.UTC
	// Twice a day for ten days, 14:00 and 19:00 Oslo time: 23rd to 14th.
	var twice []*skjold.Manifest
	for d := 23; d >= 14; d-- {
		twice = append(twice, manifest(at(oslo, d, 19, 0), d*2+1), manifest(at(oslo, d, 14, 0), d*2))
	}
	// 00:30 Oslo on the 23rd is 23:30 UTC on the 22nd: the day is counted in the zone.
	lateUTC := manifest(at(oslo, 23, 0, 30), 1)
	dayBefore := manifest(at(oslo, 22, 19, 0), 2)
	future := manifest(at(utc, 24, 9, 0), 3)
	cases := []struct {
		name          string
		ms            []*skjold.Manifest
		keep          int
		now           time.Time
		kept, deleted []string
		corrupt       map[string]bool
	}{
		{"none", nil, 7, at(oslo, 23, 20, 0), []string{}, []string{}, nil},
		{"one", twice[:1], 7, at(oslo, 23, 20, 0), ids(twice[0]), []string{}, nil},
		{"newest of each of seven days", twice, 7, at(oslo, 23, 20, 0),
			ids(twice[0], twice[2], twice[4], twice[6], twice[8], twice[10], twice[12]),
			ids(append([]*skjold.Manifest{twice[1], twice[3], twice[5], twice[7], twice[9], twice[11], twice[13]}, twice[14:]...)...), nil},
		{"keep one day", twice, 1, at(oslo, 23, 20, 0), ids(twice[0]), ids(twice[1:]...), nil},
		{"before today's first backup", twice[2:], 2, at(oslo, 23, 10, 0), ids(twice[2]), ids(twice[3:]...), nil},
		{"zone decides the day", []*skjold.Manifest{lateUTC, dayBefore}, 7, at(oslo, 23, 20, 0), ids(lateUTC, dayBefore), []string{}, nil},
		{"same in UTC is one day", []*skjold.Manifest{lateUTC, dayBefore}, 7, at(utc, 23, 20, 0), ids(lateUTC), ids(dayBefore), nil},
		{"a backup dated after now is kept", []*skjold.Manifest{future, twice[0]}, 1, at(oslo, 23, 20, 0), ids(future, twice[0]), []string{}, nil},
		{"unsorted input", []*skjold.Manifest{twice[3], twice[0], twice[1]}, 7, at(oslo, 23, 20, 0), ids(twice[0], twice[3]), ids(twice[1]), nil},
		// The 22nd's newest copy is corrupt: its good 14:00 copy is the day's, and the corrupt
		// one goes. The 21st has only corrupt copies: its newest stays, as before.
		{"a verified copy before a corrupt one", twice[:6], 7, at(oslo, 23, 20, 0),
			ids(twice[0], twice[3], twice[4]), ids(twice[1], twice[2], twice[5]),
			map[string]bool{twice[2].ID: true, twice[4].ID: true, twice[5].ID: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kept, deleted := plan(tc.ms, tc.keep, tc.now, tc.corrupt)
			if !slices.Equal(kept, tc.kept) || !slices.Equal(deleted, tc.deleted) {
				t.Errorf("plan kept %v, deleted %v;\nwant kept %v, deleted %v", kept, deleted, tc.kept, tc.deleted)
			}
		})
	}
}

// DST: the day the clocks go back has 25 hours; 23:30 local is still that day.
func TestPlanDaylightSaving(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	back := manifest(time.Date(2026, 10, 25, 23, 30, 0, 0, oslo), 1)
	next := manifest(time.Date(2026, 10, 26, 0, 30, 0, 0, oslo), 2)
	kept, deleted := plan([]*skjold.Manifest{next, back}, 2, time.Date(2026, 10, 26, 12, 0, 0, 0, oslo), nil)
	if !slices.Equal(kept, ids(next, back)) || len(deleted) != 0 {
		t.Errorf("kept %v deleted %v: want both kept, one per day", kept, deleted)
	}
}

func TestOrphans(t *testing.T) {
	now := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	old, young, whole := "20261120T140000Z-00000001", "20261123T190000Z-00000002", "20261119T140000Z-00000003"
	names := []string{skjold.BackupFile(old), skjold.ManifestFile(young), skjold.BackupFile(whole), skjold.ManifestFile(whole),
		skjold.JournalFile, "notes.txt", "20261101T000000Z-00000004.manifest.json"}
	slices.Sort(names)
	got := orphans(names, now)
	want := []string{"20261101T000000Z-00000004.manifest.json", skjold.BackupFile(old)}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("orphans = %v, want %v (young halves, whole backups and other files stay)", got, want)
	}
}

// put stores a backup's two objects on m: content, and a manifest whose checksum matches
// it unless corrupt.
func put(t *testing.T, m *memTarget, man *skjold.Manifest, corrupt bool) {
	t.Helper()
	body := []byte("encrypted " + man.ID)
	sum := sha256.Sum256(body)
	man.SHA256, man.Size = hex.EncodeToString(sum[:]), int64(len(body))
	if corrupt {
		body[0] ^= 1
	}
	js, _ := json.Marshal(man)
	ctx := context.Background()
	if _, err := m.Put(ctx, skjold.BackupFile(man.ID), strings.NewReader(string(body))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, skjold.ManifestFile(man.ID), strings.NewReader(string(js))); err != nil {
		t.Fatal(err)
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	now := at(time.UTC, 23, 20, 0)
	var all []*skjold.Manifest
	for d := 23; d >= 10; d-- {
		all = append(all, manifest(at(time.UTC, d, 19, 0), d*2+1), manifest(at(time.UTC, d, 14, 0), d*2))
	}

	t.Run("keeps seven days", func(t *testing.T) {
		m := newMem("mem:a")
		for _, man := range all {
			put(t, m, man, false)
		}
		m.objs[skjold.JournalFile] = []byte("{}\n")
		rep, err := Rotate(ctx, m, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Kept) != 7 || len(rep.Deleted) != len(all)-7 || rep.NewestGood != all[0].ID {
			t.Errorf("report %+v", rep)
		}
		left, _ := List(ctx, m)
		if got := ids(left...); !slices.Equal(got, rep.Kept) {
			t.Errorf("target holds %v, want %v", got, rep.Kept)
		}
		if len(m.names()) != 2*7+1 {
			t.Errorf("target holds %v: want 7 backups and the journal", m.names())
		}
	})

	t.Run("never deletes the newest good copy", func(t *testing.T) {
		m := newMem("mem:b")
		for i, man := range all {
			put(t, m, man, i < 20) // every backup of the last 10 days is corrupt
		}
		rep, err := Rotate(ctx, m, 7, now)
		if err != nil {
			t.Fatal(err)
		}
		good := all[20].ID
		if rep.NewestGood != good || !slices.Contains(rep.Kept, good) || slices.Contains(rep.Deleted, good) {
			t.Errorf("report %+v: the newest good copy %s must be kept", rep, good)
		}
		if _, err := Verify(ctx, m, good, nil); err != nil {
			t.Errorf("the newest good copy is gone: %v", err)
		}
	})

	t.Run("refuses without a verified copy", func(t *testing.T) {
		m := newMem("mem:c")
		for _, man := range all {
			put(t, m, man, true)
		}
		before := m.names()
		_, err := Rotate(ctx, m, 7, now)
		if !errors.Is(err, ErrNoVerifiedCopy) {
			t.Fatalf("Rotate = %v, want ErrNoVerifiedCopy", err)
		}
		if after := m.names(); !slices.Equal(before, after) {
			t.Errorf("a refused rotation deleted %d objects", len(before)-len(after))
		}
	})

	t.Run("unreachable target changes nothing", func(t *testing.T) {
		m := newMem("mem:d")
		put(t, m, all[0], false)
		m.failLists = 1
		if _, err := Rotate(ctx, m, 7, now); err == nil {
			t.Fatal("Rotate on an unreachable target succeeded")
		}
		if len(m.names()) != 2 {
			t.Errorf("objects changed: %v", m.names())
		}
	})

	t.Run("local directory", func(t *testing.T) {
		d, err := NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		m := newMem("mem:e")
		for _, man := range all[:4] {
			put(t, m, man, false)
		}
		for _, n := range m.names() {
			rc, _ := m.Get(ctx, n)
			if _, err := d.Put(ctx, n, rc); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := Rotate(ctx, d, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		names, _ := d.List(ctx)
		if !slices.Equal(rep.Kept, ids(all[0])) || len(names) != 2 {
			t.Errorf("kept %v; directory holds %v", rep.Kept, names)
		}
	})
}

// Two backups of the same second: the one just made survives its own rotation, though the
// other sorts as newer (and is kept too, as the newest good copy).
func TestRotateKeepsTheBackupJustMade(t *testing.T) {
	ctx := context.Background()
	now := at(time.UTC, 23, 20, 0)
	older, just := manifest(at(time.UTC, 23, 14, 0), 0xf), manifest(at(time.UTC, 23, 14, 0), 0x1)
	for _, protect := range []string{"", just.ID} {
		m := newMem("mem:same-second")
		put(t, m, older, false)
		put(t, m, just, false)
		rep, err := rotate(ctx, m, 7, now, protect)
		if err != nil {
			t.Fatal(err)
		}
		if kept := slices.Contains(rep.Kept, just.ID); kept != (protect != "") || !slices.Contains(rep.Kept, older.ID) {
			t.Errorf("protect %q: kept %v, deleted %v", protect, rep.Kept, rep.Deleted)
		}
	}
}
