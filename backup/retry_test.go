package backup

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

func TestRetry(t *testing.T) {
	ctx := context.Background()
	t.Run("recovers from failures within the attempts", func(t *testing.T) {
		m := newMem("mem:flaky")
		m.failPuts, m.failGets, m.failLists = 2, 2, 2
		r := Retry(m, 3, time.Millisecond)
		if _, err := r.Put(ctx, "a", strings.NewReader("payload")); err != nil {
			t.Fatalf("Put: %v", err)
		}
		rc, err := r.Get(ctx, "a")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "payload" {
			t.Errorf("the retried Put stored %q: the content must be sent whole again", b)
		}
		if _, err := r.List(ctx); err != nil {
			t.Fatalf("List: %v", err)
		}
		if m.puts != 3 || m.gets != 3 || m.lists != 3 {
			t.Errorf("tries: %d puts, %d gets, %d lists; want 3 each", m.puts, m.gets, m.lists)
		}
	})
	t.Run("spools a reader that cannot seek", func(t *testing.T) {
		m := newMem("mem:flaky")
		m.failPuts = 1
		r := Retry(m, 2, time.Millisecond)
		body := io.MultiReader(strings.NewReader("pay"), strings.NewReader("load")) // no Seek
		if _, err := r.Put(ctx, "a", body); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if got := string(m.objs["a"]); got != "payload" {
			t.Errorf("stored %q, want the whole spooled upload", got)
		}
	})
	t.Run("rewinds a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f")
		os.WriteFile(path, []byte("head:body"), 0o600)
		f, _ := os.Open(path)
		defer f.Close()
		f.Seek(5, io.SeekStart)
		m := newMem("mem:file")
		m.failPuts = 1
		if _, err := Retry(m, 2, time.Millisecond).Put(ctx, "a", f); err != nil {
			t.Fatal(err)
		}
		if string(m.objs["a"]) != "body" {
			t.Errorf("stored %q, want the reader's content from where it stood", m.objs["a"])
		}
	})
	t.Run("gives up after the attempts", func(t *testing.T) {
		m := newMem("mem:down")
		m.failPuts = 10
		_, err := Retry(m, 3, time.Millisecond).Put(ctx, "a", strings.NewReader("x"))
		if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "3 tries") || m.puts != 3 {
			t.Errorf("Put = %v after %d tries, want errDown after 3", err, m.puts)
		}
		if _, ok := m.objs["a"]; ok {
			t.Error("a failed Put left an object")
		}
	})
	t.Run("does not retry not found", func(t *testing.T) {
		m := newMem("mem:empty")
		_, err := Retry(m, 5, time.Millisecond).Get(ctx, "missing")
		if skjold.ErrorCode(err) != skjold.ENOTFOUND || m.gets != 1 {
			t.Errorf("Get = %v after %d tries, want ENOTFOUND at once", err, m.gets)
		}
	})
	t.Run("does not retry a permanent cause", func(t *testing.T) {
		m := newMem("mem:full")
		m.failPuts = 10
		m.failErr = &fs.PathError{Op: "write", Path: "/b/a", Err: syscall.ENOSPC}
		_, err := Retry(m, 5, time.Millisecond).Put(ctx, "a", strings.NewReader("x"))
		if !errors.Is(err, syscall.ENOSPC) || m.puts != 1 {
			t.Errorf("Put = %v after %d tries, want ENOSPC after exactly one", err, m.puts)
		}
	})
	t.Run("retries a transient cause up to the attempts", func(t *testing.T) {
		m := newMem("mem:reset")
		m.failPuts = 10
		m.failErr = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		_, err := Retry(m, 4, time.Millisecond).Put(ctx, "a", strings.NewReader("x"))
		if !errors.Is(err, syscall.ECONNRESET) || m.puts != 4 {
			t.Errorf("Put = %v after %d tries, want ECONNRESET after 4", err, m.puts)
		}
	})
	t.Run("honours the context", func(t *testing.T) {
		m := newMem("mem:slow")
		m.failLists = 10
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Retry(m, 10, time.Hour).List(cctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second || m.lists != 1 {
			t.Errorf("List = %v after %v and %d tries, want the deadline after one try", err, time.Since(start), m.lists)
		}
	})
	t.Run("backoff grows", func(t *testing.T) {
		m := newMem("mem:backoff")
		m.failLists = 3
		start := time.Now()
		if _, err := Retry(m, 4, 20*time.Millisecond).List(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 140*time.Millisecond { // 20 + 40 + 80 ms at least
			t.Errorf("three retries took %v, want at least 140ms of backoff", d)
		}
	})
}
