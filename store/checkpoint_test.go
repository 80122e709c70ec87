package store_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// TestMergeCheckpoints: merging checkpoint files is a union without duplicates, oldest first,
// that keeps every checkpoint of the last day before the newest and the last of each earlier
// day; and the file format reads back what it wrote.
func TestMergeCheckpoints(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	cp := func(seq int64, at time.Time) *skjold.AuditCheckpoint {
		return &skjold.AuditCheckpoint{Seq: seq, Head: []byte{byte(seq)}, Time: at, Key: "k", MAC: []byte{byte(seq), 1}}
	}
	old1, old2 := cp(1, day.Add(time.Hour)), cp(2, day.Add(20*time.Hour))          // Nov 20: only the last stays
	mid := cp(3, day.Add(30*time.Hour))                                            // Nov 21, the only one that day
	recent1, recent2 := cp(4, day.Add(60*time.Hour)), cp(5, day.Add(61*time.Hour)) // within a day of the newest
	newest := cp(6, day.Add(70*time.Hour))
	got := store.MergeCheckpoints([]*skjold.AuditCheckpoint{newest, old1, recent1, mid},
		[]*skjold.AuditCheckpoint{old2, recent2, recent1, newest})
	want := []*skjold.AuditCheckpoint{old2, mid, recent1, recent2, newest}
	if len(got) != len(want) {
		t.Fatalf("merged %d checkpoints, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Seq != want[i].Seq {
			t.Errorf("checkpoint %d has seq %d, want %d", i, got[i].Seq, want[i].Seq)
		}
	}
	var buf bytes.Buffer
	if err := store.WriteCheckpoints(&buf, got); err != nil {
		t.Fatal(err)
	}
	back, err := store.ReadCheckpoints(&buf)
	if err != nil || len(back) != len(got) || !back[4].Time.Equal(newest.Time) || !bytes.Equal(back[4].MAC, newest.MAC) {
		t.Errorf("read back %d checkpoints, %v", len(back), err)
	}
	for _, bad := range []string{`{"seq":1,"extra":true}`, `{"seq":`, `[1]`} {
		if _, err := store.ReadCheckpoints(bytes.NewBufferString(bad)); err == nil {
			t.Errorf("ReadCheckpoints(%s) succeeded", bad)
		}
	}
}

// FuzzReadCheckpoints: a checkpoint file from a backup target is outside input; whatever
// ReadCheckpoints accepts, it writes back and reads again the same.
func FuzzReadCheckpoints(f *testing.F) {
	f.Add(`{"seq":3,"head":"AQI=","time":"2026-11-20T10:00:00Z","key":"ab","mac":"AQI="}` + "\n")
	f.Add(`{"seq":-1}{"seq":2}`)
	f.Fuzz(func(t *testing.T, in string) {
		cps, err := store.ReadCheckpoints(bytes.NewBufferString(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := store.WriteCheckpoints(&buf, cps); err != nil {
			t.Fatal(err)
		}
		again, err := store.ReadCheckpoints(&buf)
		if err != nil || len(again) != len(cps) {
			t.Fatalf("read back %d of %d: %v", len(again), len(cps), err)
		}
	})
}
