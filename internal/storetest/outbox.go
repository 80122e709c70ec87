package storetest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/mail"
)

// testErasureHook: an erasure calls Options.OnErasure with its journal line once it has
// committed, before EraseSubject returns; the server removes there the outbox's messages
// to the erased subject (a code e-mail here), and those to other subjects stay [D4].
func testErasureHook(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	outbox := e.auth.Mailer.(*mail.Outbox)
	var mu sync.Mutex
	var heard []skjold.JournalEntry
	opts := e.options(e.keys)
	opts.Packager, opts.PublicURL = zipPackager, publicURL
	opts.OnErasure = func(ctx context.Context, erased []skjold.JournalEntry) {
		mu.Lock()
		heard = append(heard, erased...)
		mu.Unlock()
		for _, je := range erased {
			if _, err := outbox.Forget(je.TenantID, je.SubjectID); err != nil {
				t.Errorf("Forget: %v", err)
			}
		}
	}
	e.db = h.Reopen(t, e.db, opts)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	gone := e.newSubject(ctx, zebulon())
	stays := e.newSubject(ctx, &skjold.Subject{Name: "Kari Nordmann", Email: "kari@example.invalid"})
	for _, s := range []*skjold.Subject{gone, stays} {
		if err := e.db.OpenRequest(ctx, &skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Email: s.Email}); err != nil {
			t.Fatalf("OpenRequest: %v", err)
		}
	}
	waitForMail(t, e.outbox, 2)

	if _, err := e.db.EraseSubject(ctx, gone.ID, skjold.ErasedOnRequest); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(heard) != 1 || heard[0].TenantID != tn.ID || heard[0].SubjectID != gone.ID || heard[0].Kind != "subject" {
		t.Errorf("OnErasure heard %+v, want the one erasure of %s", heard, gone.ID)
	}
	mu.Unlock()
	left := waitForMail(t, e.outbox, 1)
	raw, err := os.ReadFile(left[0])
	must(t, err)
	if strings.Contains(strings.ToLower(string(raw)), strings.ToLower(gone.Email)) {
		t.Error("the outbox still holds a message to the erased subject")
	}
	if !strings.Contains(string(raw), stays.Email) {
		t.Error("the message to the other subject is gone too")
	}
}

// waitForMail waits until the outbox directory holds n messages and returns their paths.
func waitForMail(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		if len(files) == n {
			return slices.Sorted(slices.Values(files))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox holds %d messages, want %d", len(files), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
