package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

const testFrom = "skjold@example.org"

// headerNames are the header fields of every built message, each exactly once.
var headerNames = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding"}

// parsed is a built message read back as a mail client would.
type parsed struct {
	header  netmail.Header
	subject string // decoded
	body    string // decoded
}

// readMessage checks data's header block line by line and parses it back.
func readMessage(t testing.TB, data []byte) parsed {
	t.Helper()
	checkHeaderLines(t, data)
	p, err := parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.header) != len(headerNames) {
		t.Fatalf("header has %d fields, want %d: %v", len(p.header), len(headerNames), p.header)
	}
	for _, name := range headerNames {
		if n := len(p.header[textproto.CanonicalMIMEHeaderKey(name)]); n != 1 {
			t.Fatalf("header %s appears %d times, want once", name, n)
		}
	}
	if got := p.header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", got)
	}
	if _, err := netmail.ParseDate(p.header.Get("Date")); err != nil {
		t.Fatalf("Date: %v", err)
	}
	return p
}

// parse reads a message as a mail client would, decoding the subject and the
// quoted-printable body.
func parse(data []byte) (parsed, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return parsed{}, fmt.Errorf("ReadMessage: %w", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return parsed{}, fmt.Errorf("decode subject %q: %w", msg.Header.Get("Subject"), err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		return parsed{}, fmt.Errorf("decode body: %w", err)
	}
	return parsed{header: msg.Header, subject: subject, body: string(body)}, nil
}

// checkHeaderLines fails unless data's header block is printable ASCII and tabs, in CRLF-terminated
// lines, each one of headerNames (once) or a folded continuation of Subject; and no line
// of the whole message is over 998 characters.
func checkHeaderLines(t testing.TB, data []byte) {
	t.Helper()
	head, _, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of header in %q", data)
	}
	seen := map[string]bool{}
	last := ""
	for _, line := range strings.Split(string(head), "\r\n") {
		for i := 0; i < len(line); i++ {
			if (line[i] < ' ' || line[i] > '~') && line[i] != '\t' {
				t.Fatalf("header line %q has byte %#x", line, line[i])
			}
		}
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if last != "Subject" {
				t.Fatalf("continuation line %q after %s", line, last)
			}
			continue
		}
		name, _, ok := strings.Cut(line, ": ")
		if !ok || seen[name] || !isHeaderName(name) {
			t.Fatalf("unexpected header line %q", line)
		}
		seen[name], last = true, name
	}
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d characters", len(line))
		}
	}
}

func isHeaderName(name string) bool {
	for _, n := range headerNames {
		if n == name {
			return true
		}
	}
	return false
}

// wantBody is body as a reader decodes it: every line break is CRLF, and a last line
// has one too.
func wantBody(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return strings.ReplaceAll(body, "\n", "\r\n")
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name string
		m    skjold.Message
	}{
		{"ascii", skjold.Message{To: "ada@example.com", Subject: "Your code", Body: "Code: 123456\n"}},
		{"non-ascii", skjold.Message{To: "ada@example.com", Subject: "Bestätigen Sie Ihre Adresse ✓",
			Body: "Grüße, Ærø — 日本語\n"}},
		{"long non-ascii subject", skjold.Message{To: "a.b+c@sub.example.com",
			Subject: strings.Repeat("Ü", maxSubject/2), Body: "x"}},
		{"long ascii subject", skjold.Message{To: "ada@example.com", Subject: strings.Repeat("a ", maxSubject/2)}},
		{"qp-sensitive body", skjold.Message{To: "ada@example.com", Subject: "s",
			Body: ".\n..leading dots\r\na=b trailing space \r\rtab\t\n" + strings.Repeat("long ", 100)}},
		{"empty subject and body", skjold.Message{To: "ada@example.com"}},
		{"subject padded", skjold.Message{To: "ada@example.com", Subject: "  padded\t"}},
		{"subject with controls", skjold.Message{To: "ada@example.com", Subject: "a\x00b\x7fc\td"}},
	}
	now := time.Date(2026, 3, 14, 10, 15, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := build(testFrom, tt.m, now)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			p := readMessage(t, data)
			if got := p.header.Get("From"); got != testFrom {
				t.Errorf("From = %q", got)
			}
			if got := p.header.Get("To"); got != tt.m.To {
				t.Errorf("To = %q", got)
			}
			if want := strings.TrimSpace(tt.m.Subject); p.subject != want {
				t.Errorf("subject = %q, want %q", p.subject, want)
			}
			if want := wantBody(tt.m.Body); p.body != want {
				t.Errorf("body = %q, want %q", p.body, want)
			}
			if got := p.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got, _ := p.header.Date(); !got.Equal(now) {
				t.Errorf("Date = %v, want %v", got, now)
			}
			if id := p.header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.org>") {
				t.Errorf("Message-ID = %q", id)
			}
		})
	}
}

func TestBuildMessageIDsDiffer(t *testing.T) {
	m := skjold.Message{To: "ada@example.com", Subject: "s", Body: "b"}
	a, errA := build(testFrom, m, time.Now())
	b, errB := build(testFrom, m, time.Now())
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if idA, idB := readMessage(t, a).header.Get("Message-ID"), readMessage(t, b).header.Get("Message-ID"); idA == idB {
		t.Errorf("two messages share Message-ID %s", idA)
	}
}

func TestBuildRefuses(t *testing.T) {
	const to = "ada@example.com"
	tests := []struct {
		name        string
		from        string
		m           skjold.Message
		field, rule string
	}{
		{"LF in to", testFrom, skjold.Message{To: "ada@example.com\nBcc: eve@example.com", Subject: "s"}, "to", "header"},
		{"CR in to", testFrom, skjold.Message{To: "ada@example.com\r", Subject: "s"}, "to", "header"},
		{"CRLF in subject", testFrom, skjold.Message{To: to, Subject: "hi\r\nBcc: eve@example.com"}, "subject", "header"},
		{"CR in subject", testFrom, skjold.Message{To: to, Subject: "hi\rthere"}, "subject", "header"},
		{"LF in from", "skjold@example.org\nBcc: eve@example.com", skjold.Message{To: to}, "from", "header"},
		{"display name", testFrom, skjold.Message{To: "Ada <ada@example.com>"}, "to", "address"},
		{"angle brackets", testFrom, skjold.Message{To: "<ada@example.com>"}, "to", "address"},
		{"comment", testFrom, skjold.Message{To: "ada@example.com (Ada)"}, "to", "address"},
		{"two addresses", testFrom, skjold.Message{To: "ada@example.com, eve@example.com"}, "to", "address"},
		{"no domain", testFrom, skjold.Message{To: "ada"}, "to", "address"},
		{"empty", testFrom, skjold.Message{To: ""}, "to", "address"},
		{"non-ascii", testFrom, skjold.Message{To: "adä@example.com"}, "to", "address"},
		{"too long", testFrom, skjold.Message{To: strings.Repeat("a", 250) + "@example.com"}, "to", "address"},
		{"from display name", "Skjold <skjold@example.org>", skjold.Message{To: to}, "from", "address"},
		{"subject too long", testFrom, skjold.Message{To: to, Subject: strings.Repeat("s", maxSubject+1)}, "subject", "length"},
		{"subject not utf-8", testFrom, skjold.Message{To: to, Subject: "\xff"}, "subject", "utf8"},
		{"subject encoded word", testFrom, skjold.Message{To: to, Subject: "=?utf-8?q?spoof?="}, "subject", "encoded_word"},
		{"body not utf-8", testFrom, skjold.Message{To: to, Body: "\xc3"}, "body", "utf8"},
		{"body too long", testFrom, skjold.Message{To: to, Body: strings.Repeat("b", maxBody+1)}, "body", "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := build(tt.from, tt.m, time.Now())
			checkFieldError(t, err, tt.field, tt.rule)
			if data != nil {
				t.Errorf("build returned %d bytes with its error", len(data))
			}
			for _, addr := range []string{"ada@example.com", "eve@example.com", "skjold@example.org"} {
				if strings.Contains(err.Error(), addr) {
					t.Errorf("error %q echoes an address", err)
				}
			}
		})
	}
}

// checkFieldError fails unless err is an EINVALID *skjold.Error for field and rule.
func checkFieldError(t testing.TB, err error, field, rule string) {
	t.Helper()
	var e *skjold.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *skjold.Error", err)
	}
	if e.Code != skjold.EINVALID || e.Field != field || e.Rule != rule {
		t.Fatalf("error = %+v, want %s field %q rule %q", e, skjold.EINVALID, field, rule)
	}
}

func FuzzBuild(f *testing.F) {
	f.Add(testFrom, "ada@example.com", "Your code", "Code: 123456\n")
	f.Add(testFrom, "ada@example.com", "Grüße ✓ ?= =? _", "é=\r\n.\r.\n")
	f.Add(testFrom, "ada@example.com\r\nBcc: eve@example.com", "s", "b")
	f.Add(testFrom, "ada@example.com", "s\nBcc: eve@example.com", "b")
	f.Add("Skjold <skjold@example.org>", "\"a b\"@example.com", " \t", "\x00\xff")
	f.Fuzz(func(t *testing.T, from, to, subject, body string) {
		m := skjold.Message{To: to, Subject: subject, Body: body}
		data, err := build(from, m, time.Now())
		if err != nil {
			var e *skjold.Error
			if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field == "" {
				t.Fatalf("error = %#v, want an EINVALID field error", err)
			}
			if strings.Contains(to, "@") && strings.Contains(err.Error(), to) {
				t.Fatalf("error %q echoes the address", err)
			}
			return
		}
		p := readMessage(t, data)
		if p.header.Get("From") != from || p.header.Get("To") != to {
			t.Fatalf("From/To = %q/%q, want %q/%q", p.header.Get("From"), p.header.Get("To"), from, to)
		}
		if want := strings.TrimSpace(subject); p.subject != want {
			t.Fatalf("subject = %q, want %q", p.subject, want)
		}
		if want := wantBody(body); p.body != want {
			t.Fatalf("body = %q, want %q", p.body, want)
		}
	})
}
