package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// Defaults for SMTPConfig fields left empty.
const (
	DefaultPort     = "587" // message submission, RFC 6409
	DefaultHeloName = "localhost"
	DefaultTimeout  = 30 * time.Second
)

// SMTPConfig configures an SMTP relay.
type SMTPConfig struct {
	Host     string // the relay's host name or IP address; required, and the name its certificate must hold
	Port     string // "" means DefaultPort
	Username string // "" means no AUTH; otherwise AUTH PLAIN, only ever after STARTTLS
	Password string
	From     string // the sender: one bare address, for MAIL FROM and the From header
	HeloName string // the name sent with EHLO; "" means DefaultHeloName

	// AllowPlaintext lets a message, never credentials, go out in plain text when the relay
	// offers no STARTTLS. It is for tests against a relay on the loopback interface only:
	// NewSMTP refuses it for any other Host, and Send checks that the peer is a loopback
	// address. Without it a relay that offers no STARTTLS is refused.
	AllowPlaintext bool

	// TLSConfig is used for STARTTLS, e.g. to trust a private CA; nil means the system's
	// roots. An empty ServerName is set to Host, and MinVersion is raised to TLS 1.2.
	TLSConfig *tls.Config

	// Timeout bounds one whole Send, dial included; 0 means DefaultTimeout.
	Timeout time.Duration
}

// SMTP is a skjold.Mailer that hands each message to an SMTP relay, one connection per
// message.
type SMTP struct {
	cfg SMTPConfig
	tls *tls.Config
}

var _ skjold.Mailer = (*SMTP)(nil)

// NewSMTP checks cfg, fills in its defaults and returns a mailer for it. Errors: EINVALID
// FieldErrors naming "host", "port", "from", "helo_name", "timeout" or "allow_plaintext".
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Port == "" {
		cfg.Port = DefaultPort
	}
	if cfg.HeloName == "" {
		cfg.HeloName = DefaultHeloName
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &tls.Config{}
	if cfg.TLSConfig != nil {
		t = cfg.TLSConfig.Clone()
	}
	if t.ServerName == "" {
		t.ServerName = cfg.Host
	}
	t.MinVersion = max(t.MinVersion, tls.VersionTLS12)
	return &SMTP{cfg: cfg, tls: t}, nil
}

func (c *SMTPConfig) validate() error {
	if c.Host == "" || strings.ContainsFunc(c.Host, isSpaceOrControl) {
		return skjold.FieldError("host", "required", "the SMTP host must be a host name or IP address")
	}
	if p, err := strconv.Atoi(c.Port); err != nil || p < 1 || p > 65535 {
		return skjold.FieldError("port", "port", "the SMTP port must be a number from 1 to 65535")
	}
	if err := checkAddress("from", c.From); err != nil {
		return err
	}
	if strings.ContainsFunc(c.HeloName, isSpaceOrControl) {
		return skjold.FieldError("helo_name", "header", "the EHLO name must not contain spaces or control characters")
	}
	if c.Timeout < 0 {
		return skjold.FieldError("timeout", "positive", "the SMTP timeout must not be negative")
	}
	if c.AllowPlaintext && !isLoopbackHost(c.Host) {
		return skjold.FieldError("allow_plaintext", "loopback", "plain-text SMTP is only allowed to a loopback host")
	}
	return nil
}

// Send builds m and delivers it through the relay: EHLO, STARTTLS, AUTH PLAIN when a
// Username is set, MAIL, RCPT, DATA. It returns nil once the relay has accepted the whole
// message (a failed QUIT after that is ignored, so that the caller does not send twice).
//
// Errors: EINVALID for a malformed message, before anything is sent; EUNAVAILABLE when the
// relay cannot be reached, offers no STARTTLS, fails the certificate check, refuses the
// credentials, sender, recipient or message, or when ctx ends or the timeout passes first
// (the error then wraps ctx's error or context.DeadlineExceeded). An error keeps the
// relay's reply code but not its text, which can quote the recipient's address.
func (s *SMTP) Send(ctx context.Context, m skjold.Message) error {
	msg, err := build(s.cfg.From, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	d := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.cfg.Host, s.cfg.Port))
	if err != nil {
		return relayError(ctx, "connect", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Cancelling ctx must also interrupt a read already waiting on a silent relay.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	return s.deliver(ctx, conn, m.To, msg)
}

// deliver runs the SMTP exchange for one message over conn.
func (s *SMTP) deliver(ctx context.Context, conn net.Conn, to string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return relayError(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return relayError(ctx, "EHLO", err)
	}
	if err := s.startTLS(ctx, c, conn); err != nil {
		return err
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return skjold.Errorf(skjold.EUNAVAILABLE, "the mail relay does not offer AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return relayError(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return relayError(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		return relayError(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return relayError(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return relayError(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return relayError(ctx, "DATA", err)
	}
	c.Quit()
	return nil
}

// startTLS upgrades the session with STARTTLS, or refuses to go on without it unless
// plain text is allowed, the peer is on the loopback interface and no credentials are set.
func (s *SMTP) startTLS(ctx context.Context, c *smtp.Client, conn net.Conn) error {
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tls); err != nil {
			return relayError(ctx, "STARTTLS", err)
		}
		return nil
	}
	if !s.cfg.AllowPlaintext || !isLoopbackAddr(conn.RemoteAddr()) {
		return skjold.Errorf(skjold.EUNAVAILABLE, "the mail relay does not offer STARTTLS; refusing to send without TLS")
	}
	if s.cfg.Username != "" {
		return skjold.Errorf(skjold.EUNAVAILABLE, "the mail relay does not offer STARTTLS; refusing to send credentials without TLS")
	}
	return nil
}

// relayError reports a failed step of the exchange as EUNAVAILABLE, wrapping the cause: the
// context's error when ctx ended first, else the relay's reply code without its text.
func relayError(ctx context.Context, step string, err error) error {
	var reply *textproto.Error
	switch {
	case ctx.Err() != nil:
		err = context.Cause(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The only deadline on the connection is ctx's, whose timer may not have fired yet.
		err = context.DeadlineExceeded
	case errors.As(err, &reply):
		err = fmt.Errorf("reply %d", reply.Code)
	}
	return fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "the mail relay failed at %s", step), err)
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
