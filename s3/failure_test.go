package s3

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/internal/s3test"
)

func TestMissingBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	tg := targetFor(t, srv, func(c *Config) { c.Bucket = "absent" })
	ctx := t.Context()
	_, err := tg.Put(ctx, "x", strings.NewReader("x"))
	t.Log(err)
	_, lerr := tg.List(ctx)
	_, gerr := tg.Get(ctx, "x")
	for op, err := range map[string]error{"Put": err, "List": lerr, "Get": gerr} {
		if err == nil || !strings.Contains(err.Error(), `bucket "absent" does not exist`) {
			t.Errorf("%s in a missing bucket: %v, want an error saying so", op, err)
		}
		if got, _, _ := backup.Classify(err); got != backup.CauseMissing {
			t.Errorf("%s in a missing bucket: cause %q, want missing", op, got)
		}
	}
}

func TestUnreachableEndpointFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	for name, addr := range map[string]string{"closed port": freeAddr(t), "silent server": silentServer(t)} {
		t.Run(name, func(t *testing.T) {
			tg := targetFor(t, srv, func(c *Config) { c.Endpoint = addr; c.Timeout = 500 * time.Millisecond })
			start := time.Now()
			_, err := tg.Put(t.Context(), "x", strings.NewReader("x"))
			t.Log(err)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Put took %s with a timeout of 500ms", took)
			}
			if err == nil || !strings.Contains(err.Error(), tg.Name()) {
				t.Errorf("Put to %s: %v, want an error naming the target", addr, err)
			}
			if got, _, _ := backup.Classify(err); got != backup.CauseUnreachable {
				t.Errorf("Put to %s: cause %q, want unreachable", addr, got)
			}
			if _, err := tg.List(t.Context()); err == nil {
				t.Error("List succeeded")
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts TCP connections, reads what comes and never answers.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go io.Copy(io.Discard, c)
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

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := s3test.StartTLS(t)
	srv.CreateBucket(t, bucket)
	tg := targetFor(t, srv, func(*Config) {})
	if _, err := tg.Put(t.Context(), "x", strings.NewReader("over TLS")); err != nil {
		t.Fatal(err)
	}
	if b := get(t, tg, "x"); string(b) != "over TLS" {
		t.Errorf("Get = %q", b)
	}
	untrusting := targetFor(t, srv, func(c *Config) { c.CAFile = "" })
	_, err := untrusting.List(t.Context())
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("List without trusting the server's certificate: %v, want a certificate error", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	const secret = "very-secret-key-material"
	good := Config{Endpoint: "s3.example.com", Bucket: bucket, AccessKey: "id", SecretKey: secret}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint is required"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket is required"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "access_key is required"},
		{"no secret key", func(c *Config) { c.SecretKey = " " }, "secret_key is required"},
		{"scheme", func(c *Config) { c.Endpoint = "https://s3.example.com" }, "without a scheme"},
		{"bad bucket", func(c *Config) { c.Bucket = "Not_A_Bucket" }, "bucket"},
		{"plain HTTP afar", func(c *Config) { c.DisableTLS = true }, "loopback"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
		{"missing CA file", func(c *Config) { c.CAFile = filepath.Join(dir, "nope") }, "no such file"},
		{"garbage CA file", func(c *Config) { c.CAFile = garbage }, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := New(cfg)
			if skjold.ErrorCode(err) != skjold.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %s mentioning %q", err, skjold.EINVALID, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret key: %v", err)
			}
		})
	}
	for _, endpoint := range []string{"127.0.0.1:9000", "localhost:9000", "[::1]:9000"} {
		cfg := good
		cfg.Endpoint, cfg.DisableTLS = endpoint, true
		if _, err := New(cfg); err != nil {
			t.Errorf("plain HTTP to %s: %v", endpoint, err)
		}
	}
}
