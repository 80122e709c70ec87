package sftp

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/internal/sshdtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestWrongHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewPublicKey(other)
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(knownhosts.Line([]string{srv.Addr}, otherKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Addr: srv.Addr, User: srv.User, KeyFile: srv.KeyFile, KnownHostsFile: file, Dir: srv.Dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Put(t.Context(), "x", strings.NewReader("secret backup"))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "host key does not match") {
		t.Errorf("Put to a server with another host key: %v, want a host key mismatch", err)
	}
	wantCause(t, err, backup.CauseHostKey)
	if _, err := tg.List(t.Context()); err == nil {
		t.Error("List on a server with another host key succeeded")
	}
	if files := dirEntries(t, srv.Dir); len(files) != 0 {
		t.Errorf("the server's directory holds %q", files)
	}
}

func TestUnreachableServerFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t) // for a key and a known_hosts file to satisfy New
	closed := freeAddr(t)
	silent := silentServer(t) // accepts connections and never speaks SSH
	for _, addr := range []string{closed, silent} {
		t.Run(addr, func(t *testing.T) {
			known := filepath.Join(t.TempDir(), "known_hosts")
			os.WriteFile(known, []byte(knownhosts.Line([]string{addr}, srv.HostKey)+"\n"), 0o600)
			tg, err := New(Config{Addr: addr, User: srv.User, KeyFile: srv.KeyFile, KnownHostsFile: known,
				Dir: srv.Dir, Timeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = tg.Put(t.Context(), "x", strings.NewReader("x"))
			t.Log(err)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Put took %s with a timeout of 500ms", took)
			}
			if err == nil || !strings.Contains(err.Error(), tg.Name()) {
				t.Errorf("Put to %s: %v, want an error naming the target", addr, err)
			}
			wantCause(t, err, backup.CauseUnreachable)
		})
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts TCP connections and never answers.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	dir := t.TempDir()
	locked := filepath.Join("testdata", "locked_ed25519") // made by ssh-keygen; its passphrase is not-a-secret
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	plain, _ := ssh.MarshalPrivateKey(priv, "")
	garbled := filepath.Join(dir, "garbled")
	keyText := pem.EncodeToMemory(plain)
	os.WriteFile(garbled, keyText[:len(keyText)/2], 0o600)
	emptyHosts := filepath.Join(dir, "known_hosts")
	os.WriteFile(emptyHosts, nil, 0o600)

	good := Config{Addr: srv.Addr, User: srv.User, KeyFile: srv.KeyFile, KnownHostsFile: srv.KnownHostsFile, Dir: "/backups"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no address", func(c *Config) { c.Addr = "" }, "addr is required"},
		{"no user", func(c *Config) { c.User = "" }, "user is required"},
		{"no key", func(c *Config) { c.KeyFile = "" }, "key_file is required"},
		{"no known_hosts", func(c *Config) { c.KnownHostsFile = "" }, "known_hosts_file is required"},
		{"no directory", func(c *Config) { c.Dir = " " }, "dir is required"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
		{"missing key file", func(c *Config) { c.KeyFile = filepath.Join(dir, "nope") }, "no such file"},
		{"passphrase", func(c *Config) { c.KeyFile = locked }, "passphrase"},
		{"garbled key", func(c *Config) { c.KeyFile = garbled }, "does not hold"},
		{"host not listed", func(c *Config) { c.KnownHostsFile = emptyHosts }, "lists no host key"},
		{"host not listed on that port", func(c *Config) { c.Addr = "127.0.0.1" }, "lists no host key for 127.0.0.1 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := New(cfg)
			if skjold.ErrorCode(err) != skjold.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %s mentioning %q", err, skjold.EINVALID, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), string(keyText[40:60])) {
				t.Errorf("the error shows key material: %v", err)
			}
		})
	}
}

func TestMissingDirectory(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	tg := targetFor(t, srv, filepath.Join(srv.Dir, "absent"))
	_, err := tg.List(t.Context())
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("List of a missing directory: %v", err)
	}
	wantCause(t, err, backup.CauseMissing)
	_, err = tg.Put(t.Context(), "x", strings.NewReader("x"))
	if err == nil {
		t.Error("Put into a missing directory succeeded")
	}
	wantCause(t, err, backup.CauseMissing)
}

func TestDiskFullLeavesNothing(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system for the server needs root")
	}
	srv := sshdtest.Start(t)
	small := filepath.Join(srv.Dir, "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", small).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", small, err, out)
		}
	})
	tg := targetFor(t, srv, small)
	ctx := t.Context()
	old := randomBytes(t, 300<<10)
	if _, err := tg.Put(ctx, "x.skjold.age", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"x.skjold.age", "y.skjold.age"} {
		_, err := tg.Put(ctx, name, bytes.NewReader(randomBytes(t, 2<<20)))
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "disk is full") {
			t.Errorf("Put %s of 2 MiB into 1 MiB: %v, want an error saying the disk is full", name, err)
		}
		wantCause(t, err, backup.CauseFull)
	}
	if names := list(t, tg); !slices.Equal(names, []string{"x.skjold.age"}) {
		t.Errorf("List = %q, want only the object that fit", names)
	}
	if b := get(t, tg, "x.skjold.age"); !bytes.Equal(b, old) {
		t.Error("a failed replacement changed the existing object")
	}
	if files := dirEntries(t, small); !slices.Equal(files, []string{"x.skjold.age"}) {
		t.Errorf("the full directory holds %q; the partial uploads were not removed", files)
	}
}

func TestServerThatStopsAnsweringFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	p := startProxy(t, srv.Addr)
	known := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(known, []byte(knownhosts.Line([]string{p.addr}, srv.HostKey)+"\n"), 0o600)
	tg, err := New(Config{Addr: p.addr, User: srv.User, KeyFile: srv.KeyFile, KnownHostsFile: known,
		Dir: srv.Dir, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The network goes silent after the first megabyte of the upload.
	r := &cancellingReader{r: bytes.NewReader(randomBytes(t, 8<<20)), after: 1 << 20, cancel: p.freeze}
	start := time.Now()
	_, err = tg.Put(t.Context(), "s.skjold.age", r)
	t.Log(err)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Put took %s with a timeout of 2s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "stopped answering") {
		t.Errorf("Put through a frozen network: %v, want an error saying the server stopped answering", err)
	}
	wantCause(t, err, backup.CauseUnreachable)
	for _, f := range dirEntries(t, srv.Dir) {
		if !strings.HasPrefix(f, tempPrefix) {
			t.Errorf("the server's directory holds %q", f)
		}
	}
}

// proxy forwards TCP connections to a server until frozen; then it forwards nothing more.
type proxy struct {
	addr   string
	frozen chan struct{}
	once   sync.Once
}

func (p *proxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), frozen: make(chan struct{})}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			wg.Go(func() { p.pipe(s, c) })
			wg.Go(func() { p.pipe(c, s) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

// pipe copies from src to dst, dropping everything once the proxy is frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			if err != nil {
				return
			}
			continue
		default:
		}
		if _, werr := dst.Write(buf[:n]); werr != nil || err != nil {
			return
		}
	}
}

// wantCause checks that backup.Classify sees the cause in a real error from this target.
func wantCause(t *testing.T, err error, want backup.Cause) {
	t.Helper()
	if got, _, _ := backup.Classify(err); got != want {
		t.Errorf("Classify(%v) = %q, want %q", err, got, want)
	}
}
