// Package mail sends Skjold's e-mail [H1]: through an SMTP relay, only ever over STARTTLS,
// or into an outbox directory when no relay is configured. Both write the same message: a
// plain-text RFC 5322 message in UTF-8, quoted-printable, with an RFC 2047 subject.
//
// A message body may hold a secret link or code: nothing in this package logs it, and no
// error carries it or the recipient's address.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
)

// Limits on a message's parts. The subject limit keeps even a fully encoded subject far
// below SMTP's 998-character line limit.
const (
	maxAddress = 254
	maxSubject = 200
	maxBody    = 1 << 20
)

// lineBreaks turns every line-break convention into "\n", which the quoted-printable writer
// then writes as CRLF.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// build checks m and returns it as an RFC 5322 message from the address from, dated now.
// The body's line breaks become CRLF, and its last line gets one if it has none.
// Errors are EINVALID FieldErrors: "from"/"to" with rule "header" (a line break) or
// "address"; "subject" with "header", "utf8", "length" or "encoded_word"; "body" with
// "utf8" or "length". They never quote the offending value.
func build(from string, m skjold.Message, now time.Time) ([]byte, error) {
	if err := checkAddress("from", from); err != nil {
		return nil, err
	}
	if err := checkAddress("to", m.To); err != nil {
		return nil, err
	}
	subject, err := encodeSubject(m.Subject)
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(m.Body) {
		return nil, skjold.FieldError("body", "utf8", "the body must be valid UTF-8")
	} else if len(m.Body) > maxBody {
		return nil, skjold.FieldError("body", "length", "the body must be at most %d bytes", maxBody)
	}

	var b bytes.Buffer
	for _, h := range [][2]string{
		{"From", from},
		{"To", m.To},
		{"Subject", subject},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", messageID(from)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(bodyText(m.Body))) // writes to a bytes.Buffer cannot fail
	qp.Close()
	return b.Bytes(), nil
}

// bodyText returns body with "\n" line breaks and, when not empty, ending in one: SMTP
// ends a message with a line break anyway, and the outbox must write what SMTP sends.
func bodyText(body string) string {
	body = lineBreaks.Replace(body)
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return body
}

// checkAddress returns nil when s is one bare ASCII address (local@domain: no display name,
// angle brackets, comments or quoting), as net/mail parses it. field names the field in the
// error, which never quotes s.
func checkAddress(field, s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return skjold.FieldError(field, "header", "the %s address must not contain a line break", field)
	}
	invalid := skjold.FieldError(field, "address", "the %s address must be one bare e-mail address, without a name or brackets", field)
	if s == "" || len(s) > maxAddress {
		return invalid
	}
	for i := 0; i < len(s); i++ {
		// Non-ASCII addresses would need SMTPUTF8, which a relay may not offer.
		if s[i] <= ' ' || s[i] > '~' {
			return invalid
		}
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return invalid
	}
	return nil
}

// encodeSubject returns the value of the Subject header for s: s itself when it is printable
// ASCII, otherwise RFC 2047 Q-encoded words, one per folded line. Surrounding white space is
// dropped, as a header parser would drop it anyway.
func encodeSubject(s string) (string, error) {
	switch {
	case strings.ContainsAny(s, "\r\n"):
		return "", skjold.FieldError("subject", "header", "the subject must not contain a line break")
	case !utf8.ValidString(s):
		return "", skjold.FieldError("subject", "utf8", "the subject must be valid UTF-8")
	case len(s) > maxSubject:
		return "", skjold.FieldError("subject", "length", "the subject must be at most %d bytes", maxSubject)
	case strings.Contains(s, "=?"):
		// mime leaves ASCII alone, so a literal "=?...?=" would reach the reader decoded as
		// an encoded word: a subject that is shown differently from the one we wrote.
		return "", skjold.FieldError("subject", "encoded_word", "the subject must not contain \"=?\"")
	}
	s = strings.TrimSpace(s)
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s, nil
	}
	// Q encoding writes spaces as "_", so "?= =?" only ever separates two encoded words:
	// folding there keeps each line short and decodes to the same text.
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?"), nil
}

// messageID returns a new random Message-ID in the sender's domain.
func messageID(from string) string {
	return "<" + hex.EncodeToString(randomBytes(16)) + "@" + from[strings.LastIndexByte(from, '@')+1:] + ">"
}

// randomBytes returns n bytes from crypto/rand, which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
