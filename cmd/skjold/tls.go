package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// tlsConfig returns the server's TLS configuration: TLS 1.2 or newer, with only forward-
// secret AEAD cipher suites for TLS 1.2 (TLS 1.3's suites are all strong), and key exchange
// over X25519 or P-256 only. The hybrid post-quantum X25519MLKEM768 stays on for clients
// that offer it, so recorded traffic is not exposed to a future quantum computer.
// The certificate comes from get, so that it can be swapped while the server runs.
func tlsConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		GetCertificate:   get,
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// loadCertificate loads the configured certificate, or the self-signed one in the data
// directory, making (or renewing, when it expires within a week) that one as needed. It
// returns the certificate and whether it is self-signed. A key file that group or others
// may read is refused.
func loadCertificate(cfg Config, now time.Time) (tls.Certificate, bool, error) {
	if cfg.TLSCertFile != "" {
		if err := checkPrivate(cfg.TLSKeyFile, "TLS key file", "chmod 600"); err != nil {
			return tls.Certificate{}, false, err
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return cert, false, fmt.Errorf("TLS certificate: %w", err)
		}
		return cert, false, nil
	}
	certFile, keyFile := filepath.Join(cfg.Data, "tls.crt"), filepath.Join(cfg.Data, "tls.key")
	if err := checkPrivate(keyFile, "TLS key file", "chmod 600"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, true, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil && cert.Leaf != nil && now.Add(7*24*time.Hour).Before(cert.Leaf.NotAfter) {
		return cert, true, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cert, true, fmt.Errorf("self-signed TLS certificate in %s: %w", cfg.Data, err)
	}
	if err := writeSelfSigned(certFile, keyFile, cfg.Addr, now); err != nil {
		return cert, true, err
	}
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	return cert, true, err
}

// writeSelfSigned makes an ECDSA P-256 certificate valid for a year for localhost, the
// loopback addresses and the listen host.
func writeSelfSigned(certFile, keyFile, addr string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Skjold self-signed", Organization: []string{"Skjold"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if ip == nil && host != "" && host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// fingerprint returns the SHA-256 fingerprint of a certificate, for pinning.
func fingerprint(cert tls.Certificate) string {
	sum := sha256.Sum256(cert.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// certReloader holds the certificate the server presents and swaps it atomically when the
// files are loaded again (on SIGHUP), so that a renewed certificate takes effect without a
// restart and without dropping connections: new handshakes get the new certificate, open
// connections keep theirs.
type certReloader struct {
	cfg  Config
	log  *slog.Logger
	cert atomic.Pointer[tls.Certificate]
}

// newCertReloader loads the certificate once; an error here stops the start.
func newCertReloader(cfg Config, log *slog.Logger, now time.Time) (*certReloader, bool, error) {
	cert, selfSigned, err := loadCertificate(cfg, now)
	if err != nil {
		return nil, selfSigned, err
	}
	r := &certReloader{cfg: cfg, log: log}
	r.cert.Store(&cert)
	return r, selfSigned, nil
}

// current returns the certificate served now.
func (r *certReloader) current() *tls.Certificate { return r.cert.Load() }

// getCertificate is the tls.Config's GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// notAfter returns when the served certificate expires, for the metric.
func (r *certReloader) notAfter() time.Time {
	c := r.cert.Load()
	if c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
		return leaf.NotAfter
	}
	return time.Time{}
}

// reload loads the certificate and key files again. A pair that does not load — missing,
// unreadable, a key that does not match the certificate, a key file open to others — or a
// certificate already expired is refused: the old certificate stays and the error is logged
// and returned.
func (r *certReloader) reload(now time.Time) error {
	cert, _, err := loadCertificate(r.cfg, now)
	if err == nil && cert.Leaf != nil && !now.Before(cert.Leaf.NotAfter) {
		err = fmt.Errorf("TLS certificate expired on %s", cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if err != nil {
		r.log.Error("TLS certificate reload refused; the previous certificate stays in use", "err", err)
		return err
	}
	r.cert.Store(&cert)
	r.log.Info("TLS certificate reloaded", "cert_sha256", fingerprint(cert), "not_after", r.notAfter().UTC())
	return nil
}

// reloadOnHangup reloads the certificate each time hup (SIGHUP, caught by the caller only
// while the server runs) delivers, until ctx ends.
func (r *certReloader) reloadOnHangup(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(time.Now())
		}
	}
}
