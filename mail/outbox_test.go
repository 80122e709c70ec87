package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

var outboxName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.eml$`)

// newOutbox returns an outbox in a fresh directory below t.TempDir.
func newOutbox(t *testing.T) *Outbox {
	t.Helper()
	o, err := NewOutbox(filepath.Join(t.TempDir(), "outbox"), testFrom)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return o
}

// outboxFiles returns the names of the files in dir.
func outboxFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOutboxSend(t *testing.T) {
	o := newOutbox(t)
	if fi, err := os.Stat(o.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("outbox directory: %v, %v; want mode 0700", fi, err)
	}
	m := skjold.Message{To: "ada@example.com", Subject: "Bestätigen ✓", Body: "Your link: https://x.example/t/abc\n"}
	if err := o.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	names := outboxFiles(t, o.Dir())
	if len(names) != 1 || !outboxName.MatchString(names[0]) {
		t.Fatalf("outbox holds %q, want one <time>-<random>.eml file", names)
	}
	path := filepath.Join(o.Dir(), names[0])
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("message file: %v, %v; want mode 0600", fi, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := readMessage(t, data)
	if p.header.Get("From") != testFrom || p.header.Get("To") != m.To || p.subject != m.Subject || p.body != wantBody(m.Body) {
		t.Errorf("read back From %q To %q Subject %q Body %q", p.header.Get("From"), p.header.Get("To"), p.subject, p.body)
	}
}

// TestOutboxAtomic has a reader poll the outbox while large messages are written to it:
// every .eml file it sees must already be whole.
func TestOutboxAtomic(t *testing.T) {
	o := newOutbox(t)
	body := strings.Repeat("line of a long message body\n", 20000)
	const writers, each = 4, 5

	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() { readerErr <- pollWhole(o.Dir(), wantBody(body), stop) }()

	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- o.Send(t.Context(), skjold.Message{To: "ada@example.com", Subject: fmt.Sprint(w, i), Body: body})
			}
		})
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	names := outboxFiles(t, o.Dir())
	if len(names) != writers*each {
		t.Fatalf("outbox holds %d files, want %d (no temporary files left): %q", len(names), writers*each, names)
	}
	for _, name := range names {
		if !outboxName.MatchString(name) {
			t.Errorf("unexpected file %q", name)
		}
	}
}

// pollWhole reads every .eml file in dir until stop is closed, and reports the first one
// that is not a whole message with the given decoded body.
func pollWhole(dir, body string, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".eml") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			if err := checkWhole(data, body); err != nil {
				return fmt.Errorf("%s: %w", e.Name(), err)
			}
		}
	}
}

// checkWhole reports whether data is a whole message with the given decoded body.
func checkWhole(data []byte, body string) error {
	p, err := parse(data)
	if err != nil {
		return err
	}
	if p.body != body {
		return fmt.Errorf("body of %d bytes, want %d", len(p.body), len(body))
	}
	return nil
}

func TestOutboxRefuses(t *testing.T) {
	o := newOutbox(t)
	err := o.Send(t.Context(), skjold.Message{To: "ada@example.com", Subject: "s\r\nBcc: eve@example.com"})
	checkFieldError(t, err, "subject", "header")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = o.Send(ctx, skjold.Message{To: "ada@example.com", Subject: "s"})
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v", err)
	}
	if names := outboxFiles(t, o.Dir()); len(names) != 0 {
		t.Errorf("outbox holds %q after refusals", names)
	}
}

func TestNewOutboxRefuses(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, from string
	}{
		{"directory open to others", open, testFrom},
		{"not a directory", file, testFrom},
		{"from with display name", filepath.Join(t.TempDir(), "outbox"), "Skjold <skjold@example.org>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if o, err := NewOutbox(tt.dir, tt.from); err == nil {
				t.Fatalf("NewOutbox = %v, want an error", o)
			}
		})
	}
}

// TestOutboxForgetAndSweep: Forget removes the messages to one subject, or to every subject
// of a tenant, and nothing else; Sweep removes what is older than MaxAge, by the time in the
// name or, for a name without one, the file's modification time.
func TestOutboxForgetAndSweep(t *testing.T) {
	o := newOutbox(t)
	const tenantA, tenantB = "0a0a0a0a-0000-4000-8000-000000000001", "0b0b0b0b-0000-4000-8000-000000000002"
	const kari, ola, per = "11111111-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002", "33333333-0000-4000-8000-000000000003"
	send := func(to, tenantID, subjectID string) {
		t.Helper()
		m := skjold.Message{To: to, Subject: "Code", Body: "12345678\n", TenantID: tenantID, SubjectID: subjectID}
		if err := o.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	send("kari@example.com", tenantA, kari)
	send("kari@example.com", tenantA, kari)
	send("ola@example.com", tenantA, ola)
	send("per@example.com", tenantB, per)
	send("staff@example.com", "", "") // not to a subject: kept until it is old
	count := func() int { return len(outboxFiles(t, o.Dir())) }

	if n, err := o.Forget(tenantA, kari); err != nil || n != 2 || count() != 3 {
		t.Fatalf("Forget(kari) = %d, %v; %d files left, want 2 removed and 3 left", n, err, count())
	}
	if n, err := o.Forget(tenantA, ""); err != nil || n != 1 || count() != 2 {
		t.Fatalf("Forget(tenant A) = %d, %v; %d files left, want 1 removed and 2 left", n, err, count())
	}
	for _, name := range outboxFiles(t, o.Dir()) {
		if strings.Contains(name, tenantA) {
			t.Errorf("%s is left after its tenant was forgotten", name)
		}
	}
	// A message to a forgotten subject that arrives late (sent in the background before the
	// erasure) does not land; one to a subject of another tenant does.
	send("kari@example.com", tenantA, kari)
	send("ola@example.com", tenantA, ola)
	if count() != 2 {
		t.Fatalf("late messages to forgotten subjects landed: %v", outboxFiles(t, o.Dir()))
	}
	send("per@example.com", tenantB, per)
	if n, err := o.Forget(tenantB, per); err != nil || n != 2 || count() != 1 {
		t.Fatalf("Forget(per) = %d, %v; %d files left", n, err, count())
	}
	send("per2@example.com", tenantB, per)

	// A file without a time in its name, written long ago.
	old := filepath.Join(o.Dir(), "hand-made.eml")
	if err := os.WriteFile(old, []byte("To: x@example.com\r\n\r\nx"), 0o600); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	send("new@example.com", tenantB, "44444444-0000-4000-8000-000000000004")
	if n, err := o.Sweep(time.Now()); err != nil || n != 1 || count() != 2 {
		t.Fatalf("Sweep now = %d, %v; %d files left, want only the old hand-made one removed", n, err, count())
	}
	if n, err := o.Sweep(time.Now().Add(MaxAge + time.Minute)); err != nil || n != 2 || count() != 0 {
		t.Fatalf("Sweep after MaxAge = %d, %v; %d files left, want all removed", n, err, count())
	}
}
