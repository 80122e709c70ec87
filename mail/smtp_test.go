package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/skjold-project/skjold"
)

const (
	testUser     = "skjold-relay-user"
	testPassword = "correct horse battery staple"
)

// delivery is one message a test relay accepted.
type delivery struct {
	from, to string
	data     []byte
	authUser string // "" when the session did not authenticate
	authPass string
	authTLS  bool // whether AUTH ran over TLS
}

// relay is an SMTP server run inside a test on 127.0.0.1, with go-smtp. It offers
// STARTTLS with a self-signed certificate when made with TLS, and AUTH PLAIN only over TLS.
// When user is set it refuses MAIL before a successful AUTH.
type relay struct {
	addr string
	user string
	pool *x509.CertPool // trusts the relay's certificate

	mu         sync.Mutex
	sessions   int // EHLOs seen
	auths      int // AUTH attempts
	deliveries []delivery
}

// startRelay starts a relay that requires user (when not "") with testPassword.
func startRelay(t *testing.T, offerTLS bool, user string) *relay {
	t.Helper()
	r := &relay{user: user}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.sessions++
		return &session{relay: r, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if offerTLS {
		var cert tls.Certificate
		cert, r.pool = selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // Close misses the listener when Serve has not registered it yet
		<-done
	})
	return r
}

// got returns the relay's counters and deliveries so far.
func (r *relay) got() (sessions, auths int, ds []delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions, r.auths, append([]delivery(nil), r.deliveries...)
}

// config returns a client configuration for r that trusts its certificate.
func (r *relay) config(t *testing.T) SMTPConfig {
	t.Helper()
	host, port, err := net.SplitHostPort(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	return SMTPConfig{Host: host, Port: port, Username: testUser, Password: testPassword, From: testFrom,
		HeloName: "skjold.test", TLSConfig: &tls.Config{RootCAs: r.pool}, Timeout: 10 * time.Second}
}

type session struct {
	relay *relay
	conn  *smtp.Conn
	d     delivery
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	s.relay.mu.Lock()
	s.relay.auths++
	s.relay.mu.Unlock()
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.relay.user || password != testPassword {
			return errors.New("invalid credentials")
		}
		_, isTLS := s.conn.TLSConnectionState()
		s.d.authUser, s.d.authPass, s.d.authTLS = username, password, isTLS
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.relay.user != "" && s.d.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.d.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.d.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := s.d
	d.data = data
	s.relay.mu.Lock()
	s.relay.deliveries = append(s.relay.deliveries, d)
	s.relay.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.d.from, s.d.to = "", "" }
func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and localhost and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "skjold test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// newSMTP returns a mailer for cfg, failing the test on a configuration error.
func newSMTP(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func TestSMTPSend(t *testing.T) {
	tests := []struct {
		name string
		m    skjold.Message
	}{
		{"ascii", skjold.Message{To: "ada@example.com", Subject: "Your verification code",
			Body: "Your code is 123456.\nIt expires in 10 minutes.\n"}},
		{"non-ascii subject", skjold.Message{To: "bob@example.net", Subject: "Bestätigung für Ærø — 確認 ✓",
			Body: "Grüße\n"}},
		{"long non-ascii subject", skjold.Message{To: "bob@example.net", Subject: strings.Repeat("Ö ", maxSubject/3),
			Body: "no final line break"}},
		{"dots and qp", skjold.Message{To: "ada@example.com", Subject: "s",
			Body: ".\n.hidden\n..two\na=b \n" + strings.Repeat("0123456789", 30) + "\n.\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, true, testUser)
			if err := newSMTP(t, r.config(t)).Send(t.Context(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			_, _, ds := r.got()
			if len(ds) != 1 {
				t.Fatalf("relay got %d messages, want 1", len(ds))
			}
			d := ds[0]
			if d.authUser != testUser || d.authPass != testPassword || !d.authTLS {
				t.Errorf("AUTH as %q/%q, over TLS %v; want %q/%q over TLS", d.authUser, d.authPass, d.authTLS,
					testUser, testPassword)
			}
			if d.from != testFrom || d.to != tt.m.To {
				t.Errorf("envelope %s -> %s, want %s -> %s", d.from, d.to, testFrom, tt.m.To)
			}
			p := readMessage(t, d.data)
			if p.header.Get("From") != testFrom || p.header.Get("To") != tt.m.To {
				t.Errorf("From/To headers = %q/%q", p.header.Get("From"), p.header.Get("To"))
			}
			if want := strings.TrimSpace(tt.m.Subject); p.subject != want {
				t.Errorf("subject = %q, want %q", p.subject, want)
			}
			if want := wantBody(tt.m.Body); p.body != want {
				t.Errorf("body = %q, want %q", p.body, want)
			}
		})
	}
}

func TestSMTPRefuses(t *testing.T) {
	tests := []struct {
		name      string
		offerTLS  bool
		relayUser string // "" for a relay that takes mail from anyone
		configure func(*SMTPConfig)
		wantAuths int
		wantMsg   string // in the error's message
	}{
		{"no STARTTLS", false, "", func(*SMTPConfig) {}, 0, "STARTTLS"},
		{"no STARTTLS, no credentials", false, "", func(c *SMTPConfig) { c.Username, c.Password = "", "" }, 0, "STARTTLS"},
		{"no STARTTLS, plaintext allowed with credentials", false, "", func(c *SMTPConfig) { c.AllowPlaintext = true }, 0, "credentials"},
		{"wrong password", true, testUser, func(c *SMTPConfig) { c.Password = "wrong" }, 1, "AUTH"},
		{"wrong user", true, testUser, func(c *SMTPConfig) { c.Username = "mallory" }, 1, "AUTH"},
		{"untrusted certificate", true, testUser, func(c *SMTPConfig) { c.TLSConfig = nil }, 0, "STARTTLS"},
		{"certificate for another name", true, testUser, func(c *SMTPConfig) { c.TLSConfig.ServerName = "relay.example.org" }, 0, "STARTTLS"},
		{"auth required, none configured", true, testUser, func(c *SMTPConfig) { c.Username, c.Password = "", "" }, 0, "MAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, tt.offerTLS, tt.relayUser)
			cfg := r.config(t)
			tt.configure(&cfg)
			err := newSMTP(t, cfg).Send(t.Context(), skjold.Message{To: "ada@example.com", Subject: "s", Body: "secret"})
			if code := skjold.ErrorCode(err); code != skjold.EUNAVAILABLE || !strings.Contains(skjold.ErrorMessage(err), tt.wantMsg) {
				t.Fatalf("Send error = %v (code %q), want %s mentioning %q", err, code, skjold.EUNAVAILABLE, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "ada@example.com") || strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q leaks the address or password", err)
			}
			sessions, auths, ds := r.got()
			if sessions == 0 {
				t.Errorf("the client never reached the relay: the refusal is not the relay's")
			}
			if auths != tt.wantAuths || len(ds) != 0 {
				t.Errorf("relay saw %d AUTH attempts and %d messages, want %d and 0", auths, len(ds), tt.wantAuths)
			}
		})
	}
}

func TestSMTPAllowPlaintextLoopback(t *testing.T) {
	r := startRelay(t, false, "")
	cfg := r.config(t)
	cfg.Username, cfg.Password, cfg.AllowPlaintext = "", "", true
	m := skjold.Message{To: "ada@example.com", Subject: "plain", Body: "hello"}
	if err := newSMTP(t, cfg).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, _, ds := r.got(); len(ds) != 1 || readMessage(t, ds[0].data).body != "hello\r\n" {
		t.Fatalf("relay got %d messages, want 1 with the body", len(ds))
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	tests := []struct {
		name  string
		m     skjold.Message
		field string
	}{
		{"to", skjold.Message{To: "ada@example.com\r\nBcc: eve@example.com", Subject: "s"}, "to"},
		{"to LF only", skjold.Message{To: "ada@example.com\nBcc: eve@example.com", Subject: "s"}, "to"},
		{"subject", skjold.Message{To: "ada@example.com", Subject: "s\r\nBcc: eve@example.com"}, "subject"},
		{"subject CR only", skjold.Message{To: "ada@example.com", Subject: "s\rBcc: eve@example.com"}, "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, true, testUser)
			err := newSMTP(t, r.config(t)).Send(t.Context(), tt.m)
			checkFieldError(t, err, tt.field, "header")
			if strings.Contains(err.Error(), "@example.com") {
				t.Errorf("error %q echoes an address", err)
			}
			if sessions, _, ds := r.got(); sessions != 0 || len(ds) != 0 {
				t.Errorf("relay saw %d sessions and %d messages, want none", sessions, len(ds))
			}
		})
	}
}

func TestNewSMTPRefuses(t *testing.T) {
	valid := SMTPConfig{Host: "smtp.example.org", From: testFrom}
	tests := []struct {
		name      string
		configure func(*SMTPConfig)
		field     string
	}{
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "host"},
		{"host with line break", func(c *SMTPConfig) { c.Host = "smtp.example.org\r\n" }, "host"},
		{"port not a number", func(c *SMTPConfig) { c.Port = "smtp" }, "port"},
		{"port out of range", func(c *SMTPConfig) { c.Port = "70000" }, "port"},
		{"from with display name", func(c *SMTPConfig) { c.From = "Skjold <skjold@example.org>" }, "from"},
		{"from missing", func(c *SMTPConfig) { c.From = "" }, "from"},
		{"helo with space", func(c *SMTPConfig) { c.HeloName = "a b" }, "helo_name"},
		{"negative timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, "timeout"},
		{"plaintext to a remote host", func(c *SMTPConfig) { c.AllowPlaintext = true }, "allow_plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.configure(&cfg)
			s, err := NewSMTP(cfg)
			var e *skjold.Error
			if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != tt.field {
				t.Fatalf("NewSMTP = %v, %v; want an EINVALID error for %q", s, err, tt.field)
			}
		})
	}
	if _, err := NewSMTP(valid); err != nil {
		t.Errorf("NewSMTP(valid) = %v", err)
	}
}

// silentRelay accepts connections and never says a word. It returns its address and a
// channel that receives a value for each accepted connection.
func silentRelay(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 10)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

func TestSMTPSilentRelay(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool // cancel the context once the relay has accepted the connection
		want    error
	}{
		{"cancelled", time.Minute, true, context.Canceled},
		{"timeout", 50 * time.Millisecond, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, accepted := silentRelay(t)
			host, port, _ := net.SplitHostPort(addr)
			s := newSMTP(t, SMTPConfig{Host: host, Port: port, From: testFrom, Timeout: tt.timeout})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- s.Send(ctx, skjold.Message{To: "ada@example.com", Subject: "s", Body: "b"}) }()
			if tt.cancel {
				<-accepted
				cancel()
			}
			err := <-errc
			if skjold.ErrorCode(err) != skjold.EUNAVAILABLE || !errors.Is(err, tt.want) {
				t.Fatalf("Send = %v, want %s wrapping %v", err, skjold.EUNAVAILABLE, tt.want)
			}
		})
	}
}

func TestSMTPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	s := newSMTP(t, SMTPConfig{Host: host, Port: port, From: testFrom, Timeout: 5 * time.Second})
	err = s.Send(t.Context(), skjold.Message{To: "ada@example.com", Subject: "s", Body: "b"})
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Fatalf("Send = %v, want %s", err, skjold.EUNAVAILABLE)
	}
}
