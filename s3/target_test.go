package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/s3test"
)

const bucket = "backups"

// newTarget starts an S3 server with one bucket and returns a Target on it, over TLS as in
// production. (Over plain HTTP, minio-go signs each part of a multipart upload in aws-chunked
// framing, which gofakes3 decodes for whole objects but not for parts.)
func newTarget(t *testing.T, wrap ...func(http.Handler) http.Handler) (*Target, *s3test.Server) {
	t.Helper()
	srv := s3test.StartTLS(t, wrap...)
	srv.CreateBucket(t, bucket)
	return targetFor(t, srv, func(*Config) {}), srv
}

func targetFor(t *testing.T, srv *s3test.Server, edit func(*Config)) *Target {
	t.Helper()
	cfg := Config{Endpoint: srv.Endpoint, Bucket: bucket, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Region: srv.Region, DisableTLS: srv.CAFile == "", CAFile: srv.CAFile, Timeout: 5 * time.Second}
	edit(&cfg)
	tg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func get(t *testing.T, tg skjold.Target, name string) []byte {
	t.Helper()
	rc, err := tg.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func list(t *testing.T, tg skjold.Target) []string {
	t.Helper()
	names, err := tg.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tg, _ := newTarget(t)
	ctx := t.Context()
	first := randomBytes(3<<20 + 17)

	got, err := tg.Put(ctx, "b.skjold.age", bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if got != sum(first) {
		t.Errorf("Put returned SHA-256 %s, want %s", got, sum(first))
	}
	if _, err := tg.Put(ctx, skjold.JournalFile, strings.NewReader("{}\n")); err != nil {
		t.Fatal(err)
	}
	if names, want := list(t, tg), []string{"b.skjold.age", skjold.JournalFile}; !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
	if b := get(t, tg, "b.skjold.age"); !bytes.Equal(b, first) {
		t.Errorf("Get returned %d bytes that differ from the %d put", len(b), len(first))
	}
	info, err := tg.client.StatObject(ctx, bucket, "b.skjold.age", minio.StatObjectOptions{})
	if err != nil || info.UserMetadata[metaSHA256] != sum(first) {
		t.Errorf("the object's metadata %v does not carry its SHA-256 (stat error: %v)", info.UserMetadata, err)
	}

	// From a file, Put sends what lies after the file's offset.
	file := filepath.Join(t.TempDir(), "backup")
	second := randomBytes(100 << 10)
	os.WriteFile(file, second, 0o600)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(10, io.SeekStart)
	if got, err := tg.Put(ctx, "b.skjold.age", f); err != nil || got != sum(second[10:]) {
		t.Fatalf("replacing Put from a file = %s, %v; want %s", got, err, sum(second[10:]))
	}
	if b := get(t, tg, "b.skjold.age"); !bytes.Equal(b, second[10:]) {
		t.Errorf("after replacing, Get returned %d bytes, want the %d after the file's offset", len(b), len(second)-10)
	}

	for range 2 { // deleting a missing object is not an error
		if err := tg.Delete(ctx, "b.skjold.age"); err != nil {
			t.Fatal(err)
		}
	}
	if names := list(t, tg); !slices.Equal(names, []string{skjold.JournalFile}) {
		t.Errorf("after Delete, List = %q", names)
	}
	if _, err := tg.Get(ctx, "b.skjold.age"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("Get of a deleted object: %v, want code %s", err, skjold.ENOTFOUND)
	}
}

func TestPlainHTTPOnLoopback(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	tg := targetFor(t, srv, func(*Config) {})
	data := randomBytes(1 << 20)
	if got, err := tg.Put(t.Context(), "x", bytes.NewReader(data)); err != nil || got != sum(data) {
		t.Fatalf("Put = %s, %v; want %s", got, err, sum(data))
	}
	if b := get(t, tg, "x"); !bytes.Equal(b, data) {
		t.Error("the object read back differs from what was put")
	}
}

func TestMultipartRoundTrip(t *testing.T) {
	t.Parallel()
	tg, _ := newTarget(t)
	tg.partSize = 5 << 20 // the smallest S3 allows
	big := randomBytes(11 << 20)
	if got, err := tg.Put(t.Context(), "big.skjold.age", bytes.NewReader(big)); err != nil || got != sum(big) {
		t.Fatalf("Put = %s, %v; want %s", got, err, sum(big))
	}
	if b := get(t, tg, "big.skjold.age"); !bytes.Equal(b, big) {
		t.Error("the object read back differs from what was put")
	}
}

// failingReader yields n random bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	p = p[:min(len(p), r.n)]
	rand.Read(p)
	r.n -= len(p)
	return len(p), nil
}

func TestFailingReaderLeavesNothing(t *testing.T) {
	t.Parallel()
	var puts atomic.Int32
	tg, _ := newTarget(t, countPuts(&puts))
	ctx := t.Context()
	old := randomBytes(5000)
	if _, err := tg.Put(ctx, "x.skjold.age", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	errBroken := errors.New("the backup stream broke")
	for _, name := range []string{"x.skjold.age", "y.skjold.age"} {
		_, err := tg.Put(ctx, name, &failingReader{n: 700 << 10, err: errBroken})
		t.Log(err)
		if !errors.Is(err, errBroken) {
			t.Errorf("Put %s from a failing reader: %v, want it to wrap %v", name, err, errBroken)
		}
	}
	if n := puts.Load(); n != 1 {
		t.Errorf("the server saw %d uploads, want only the first: a failing reader must fail before sending", n)
	}
	if names := list(t, tg); !slices.Equal(names, []string{"x.skjold.age"}) {
		t.Errorf("List = %q, want only the complete object", names)
	}
	if b := get(t, tg, "x.skjold.age"); !bytes.Equal(b, old) {
		t.Error("a failed replacement changed the existing object")
	}
}

func countPuts(n *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				n.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
}

// dropConnection cuts the connection of the nth PUT request (counting from 1) after reading
// half of its body, as a network failure would, and stores the request's upload ID.
func dropConnection(nth int32, uploadID *atomic.Pointer[string]) func(http.Handler) http.Handler {
	var seen atomic.Int32
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPut || seen.Add(1) != nth {
				h.ServeHTTP(w, r)
				return
			}
			id := r.URL.Query().Get("uploadId")
			uploadID.Store(&id)
			io.CopyN(io.Discard, r.Body, r.ContentLength/2)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
		})
	}
}

func TestDroppedUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		size int
		drop int32 // which PUT request fails
	}{
		{"single request", 3 << 20, 2},
		{"multipart, second part", 11 << 20, 3}, // PUT 1: the old object; 2, 3, 4: the parts
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dropped atomic.Pointer[string] // the upload ID of the dropped part, if it was one
			tg, _ := newTarget(t, dropConnection(tc.drop, &dropped))
			tg.partSize = 5 << 20
			ctx := t.Context()
			if _, err := tg.Put(ctx, "x.skjold.age", strings.NewReader("old")); err != nil {
				t.Fatal(err)
			}
			_, err := tg.Put(ctx, "x.skjold.age", bytes.NewReader(randomBytes(tc.size)))
			t.Log(err)
			var answer minio.ErrorResponse
			if err == nil || errors.As(err, &answer) {
				t.Fatalf("Put over a dropped connection: %v, want a network error", err)
			}
			if _, err := tg.Put(ctx, "y.skjold.age", strings.NewReader("later")); err != nil {
				t.Fatal(err)
			}
			if names := list(t, tg); !slices.Equal(names, []string{"x.skjold.age", "y.skjold.age"}) {
				t.Errorf("List = %q", names)
			}
			if b := get(t, tg, "x.skjold.age"); string(b) != "old" {
				t.Errorf("a dropped replacement changed the existing object to %d bytes", len(b))
			}
			if id := dropped.Load(); id != nil && *id != "" {
				core := minio.Core{Client: tg.client}
				_, err := core.ListObjectParts(ctx, bucket, "x.skjold.age", *id, 0, 100)
				if minio.ToErrorResponse(err).Code != "NoSuchUpload" {
					t.Errorf("the dropped multipart upload was left behind (listing its parts: %v)", err)
				}
			}
		})
	}
}

// corruptReads flips a bit in the body of every GET response.
func corruptReads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" && strings.Count(r.URL.Path, "/") > 1 {
			w = &flipWriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	})
}

type flipWriter struct {
	http.ResponseWriter
	done bool
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if !f.done && len(p) > 0 {
		p = slices.Clone(p)
		p[0] ^= 1
		f.done = true
	}
	return f.ResponseWriter.Write(p)
}

func TestReadBackMismatchDeletesObject(t *testing.T) {
	t.Parallel()
	tg, _ := newTarget(t, corruptReads)
	_, err := tg.Put(t.Context(), "x.skjold.age", bytes.NewReader(randomBytes(1000)))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "was sent") {
		t.Errorf("Put whose copy reads back different: %v, want a checksum mismatch", err)
	}
	if names := list(t, tg); len(names) != 0 {
		t.Errorf("List = %q, want the bad copy deleted", names)
	}
}

func TestCancelledUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancelMidway := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				cancel()
			}
			h.ServeHTTP(w, r)
		})
	}
	tg, _ := newTarget(t, cancelMidway)
	_, err := tg.Put(ctx, "c.skjold.age", bytes.NewReader(randomBytes(4<<20)))
	t.Log(err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway: %v, want it to wrap context.Canceled", err)
	}
	if names := list(t, tg); len(names) != 0 {
		t.Errorf("List = %q after a cancelled upload, want nothing", names)
	}
}

func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	ctx := t.Context()
	prefixes := []string{"", "a", "/ab/", "a/b"}
	targets := map[string]*Target{}
	for _, p := range prefixes {
		targets[p] = targetFor(t, srv, func(c *Config) { c.Prefix = p })
		if _, err := targets[p].Put(ctx, "x", strings.NewReader("in "+p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range prefixes {
		if names := list(t, targets[p]); !slices.Equal(names, []string{"x"}) {
			t.Errorf("prefix %q: List = %q, want only its own object", p, names)
		}
		if b := get(t, targets[p], "x"); string(b) != "in "+p {
			t.Errorf("prefix %q: Get returned %q", p, b)
		}
	}
	if err := targets["a"].Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "/ab/", "a/b"} {
		if b := get(t, targets[p], "x"); string(b) != "in "+p {
			t.Errorf("after deleting in prefix a, prefix %q holds %q", p, b)
		}
	}
	if n := targets["/ab/"].Name(); n != "s3:"+srv.Endpoint+"/"+bucket+"/ab/" {
		t.Errorf("Name = %q", n)
	}
}

func TestBadNames(t *testing.T) {
	t.Parallel()
	tg, _ := newTarget(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, ".hidden"} {
		if _, err := tg.Put(t.Context(), name, strings.NewReader("x")); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("Put %q: %v, want code %s", name, err, skjold.EINVALID)
		}
		if err := tg.Delete(t.Context(), name); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("Delete %q: %v, want code %s", name, err, skjold.EINVALID)
		}
	}
}
