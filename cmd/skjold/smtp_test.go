package main

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relay is a real SMTP server on loopback for the test: STARTTLS with its own certificate,
// AUTH PLAIN only over TLS, and every accepted message kept.
type relay struct {
	addr, caFile string
	mu           sync.Mutex
	messages     []string
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	dir := t.TempDir()
	r := &relay{caFile: filepath.Join(dir, "relay.crt")}
	keyFile := filepath.Join(dir, "relay.key")
	if err := writeSelfSigned(r.caFile, keyFile, "127.0.0.1:25", time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(r.caFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &relaySession{r: r, c: c}, nil }))
	srv.Domain, srv.TLSConfig = "localhost", &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); ln.Close() })
	return r
}

// wait returns the first message to, waiting up to ten seconds.
func (r *relay) wait(t *testing.T, to string) *mail.Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		for i, raw := range r.messages {
			m, err := mail.ReadMessage(strings.NewReader(raw))
			if err == nil && m.Header.Get("To") == to {
				r.messages = append(r.messages[:i], r.messages[i+1:]...)
				r.mu.Unlock()
				return m
			}
		}
		r.mu.Unlock()
	}
	t.Fatalf("no e-mail to %s reached the relay within 10 s", to)
	return nil
}

type relaySession struct {
	r      *relay
	c      *smtp.Conn
	authed bool
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if _, tlsOn := s.c.TLSConnectionState(); !tlsOn || user != "skjold" || pass != "relay-secret" {
			return errors.New("authentication refused")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *relaySession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *relaySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.r.mu.Lock()
	s.r.messages = append(s.r.messages, string(b))
	s.r.mu.Unlock()
	return err
}
func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

// mailedCode returns the 8-digit code on a line of its own in m's body.
func mailedCode(t *testing.T, m *mail.Message) string {
	t.Helper()
	text, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?m)^\d{8}\r?$`).Find(text)
	if code == nil {
		t.Fatalf("no code in %q", text)
	}
	return strings.TrimSpace(string(code))
}

// TestResetThroughSMTP drives a password reset through the real server and a real SMTP
// exchange (STARTTLS, AUTH): the link's code arrives at the relay, sets a new password once,
// and the old session ends.
func TestResetThroughSMTP(t *testing.T) {
	r := startRelay(t)
	host, port, _ := net.SplitHostPort(r.addr)
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_SMTP_HOST": host, "SKJOLD_SMTP_PORT": port,
		"SKJOLD_SMTP_USERNAME": "skjold", "SKJOLD_SMTP_PASSWORD": "relay-secret", "SKJOLD_SMTP_CA_FILE": r.caFile,
		"SKJOLD_SMTP_FROM": "skjold@fjord-it.example"})
	op := readToken(t, data)
	var tenant struct {
		Token struct{ Secret string } `json:"token"`
	}
	s.call(t, "POST", "/api/v1/tenants", op, map[string]string{"name": "Fjord Travel AS"}, &tenant)
	var agent struct {
		OneTime string `json:"one_time_password"`
	}
	body := map[string]string{"email": "ola@fjord.example", "name": "Ola", "role": "agent"}
	if code := s.call(t, "POST", "/api/v1/users", tenant.Token.Secret, body, &agent); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	var login struct{ Token string }
	creds := map[string]string{"email": "ola@fjord.example", "password": agent.OneTime, "session": "token"}
	s.call(t, "POST", "/api/v1/auth/login", "", creds, &login)
	// The account waits for its address: the code comes through the relay too.
	confirm := map[string]string{"code": mailedCode(t, r.wait(t, "ola@fjord.example"))}
	if st := s.call(t, "POST", "/api/v1/auth/email-confirmation", login.Token, confirm, nil); st != 204 {
		t.Fatalf("confirm the address with the relayed code: %d", st)
	}

	if code := s.call(t, "POST", "/api/v1/auth/reset", "", map[string]string{"email": "ola@fjord.example"}, nil); code != 202 {
		t.Fatalf("reset request: %d", code)
	}
	m := r.wait(t, "ola@fjord.example")
	if m.Header.Get("From") != "skjold@fjord-it.example" {
		t.Errorf("From: %q", m.Header.Get("From"))
	}
	text, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	var code string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "skjold_r_") {
			code = strings.TrimSpace(line)
		}
	}
	reset := map[string]string{"token": code, "password": "amber-Tractor-lagoon-93"}
	if st := s.call(t, "POST", "/api/v1/auth/reset/complete", "", reset, nil); st != 204 {
		t.Fatalf("reset with the e-mailed code: %d", st)
	}
	if st := s.call(t, "GET", "/api/v1/auth/session", login.Token, nil, nil); st != 401 {
		t.Errorf("the session before the reset answered %d, want 401", st)
	}
	if st := s.call(t, "POST", "/api/v1/auth/reset/complete", "", reset, nil); st != 401 {
		t.Errorf("the code used twice answered %d, want 401", st)
	}
	creds["password"] = "amber-Tractor-lagoon-93"
	if st := s.call(t, "POST", "/api/v1/auth/login", "", creds, nil); st != 200 {
		t.Errorf("login with the new password: %d", st)
	}
}
