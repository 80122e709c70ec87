// Package s3test gives tests a real S3-protocol server in the test process: gofakes3
// (github.com/johannesboyne/gofakes3) with its in-memory backend, served over HTTP on a loopback
// port by httptest. It speaks the S3 REST API, signatures aside: any access key is accepted.
//
//	func TestUpload(t *testing.T) {
//		srv := s3test.Start(t)
//		srv.CreateBucket(t, "backups")
//		// s3.Config{Endpoint: srv.Endpoint, Bucket: "backups", AccessKey: srv.AccessKey, …, DisableTLS: true}
//	}
package s3test

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running S3-protocol server, stopped after the test.
type Server struct {
	Endpoint  string // 127.0.0.1:port, for plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	CAFile    string // for StartTLS: the PEM certificate to trust

	backend *s3mem.Backend
}

// Start starts a plain-HTTP server for t. Each wrap, if any, wraps the S3 handler, outermost
// last: a test can watch or disturb requests on their way in.
func Start(t testing.TB, wrap ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	s, h := newServer(wrap)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	s.Endpoint = strings.TrimPrefix(hs.URL, "http://")
	return s
}

// StartTLS is Start over HTTPS, with a certificate for 127.0.0.1 written to CAFile.
func StartTLS(t testing.TB, wrap ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	s, h := newServer(wrap)
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // a test refusing the certificate is no news
	hs.StartTLS()
	t.Cleanup(hs.Close)
	s.Endpoint = strings.TrimPrefix(hs.URL, "https://")
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, cert, 0o600); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return s
}

func newServer(wrap []func(http.Handler) http.Handler) (*Server, http.Handler) {
	backend := s3mem.New()
	var h http.Handler = gofakes3.New(backend, gofakes3.WithAutoBucket(false), gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	for _, w := range wrap {
		h = w(h)
	}
	return &Server{
		AccessKey: "skjold-test-access",
		SecretKey: "skjold-test-secret-0123456789",
		Region:    "us-east-1",
		backend:   backend,
	}, h
}

// CreateBucket creates an empty bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}
