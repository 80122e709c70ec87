package storetest

import (
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestMailLanguages checks that e-mails go out in their recipient's language [I3]: the
// reset e-mail in the language the person saved (English when none), and a tenant's codes
// and download links in the language of its privacy facts (English by default).
func TestMailLanguages(t *testing.T, h Harness) {
	t.Run("Reset", func(t *testing.T) { testMailReset(t, h) })
	t.Run("Subjects", func(t *testing.T) { testMailSubjects(t, h) })
}

// mailWords are phrases each language's e-mails say, and no other's.
var mailWords = map[string]struct{ reset, resetSubject, code, codeSubject, link, linkSubject string }{
	"en": {"Someone asked to reset the password", "password reset", "has received a request for a copy of your personal data (access) in your name",
		"confirm your request", "Download your data from this link", "your data"},
	"nb": {"Noen har bedt om å tilbakestille passordet", "tilbakestilling av passord", "har mottatt en forespørsel om en kopi av personopplysningene dine (innsyn) i ditt navn",
		"bekreft forespørselen din", "Last ned opplysningene dine fra denne lenken", "opplysningene dine"},
	"pl": {"Ktoś poprosił o zresetowanie hasła", "resetowanie hasła", "wpłynęło w Twoim imieniu żądanie dotyczące: kopia Twoich danych osobowych (dostęp do danych)",
		"potwierdzenie żądania", "Pobierz swoje dane z tego linku", "Twoje dane"},
}

// mailFor waits for the one e-mail in the outbox to addr, removes it and returns its
// decoded subject and body.
func (e *env) mailFor(addr string) (string, string) {
	e.t.Helper()
	var raw []byte
	for deadline := time.Now().Add(10 * time.Second); raw == nil; time.Sleep(10 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
		if len(files) == 1 {
			b, err := os.ReadFile(files[0])
			must(e.t, err)
			raw = b
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the outbox holds %d e-mails, want one", len(files))
		}
	}
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	var subject string
	for _, line := range strings.Split(head, "\r\n") {
		if s, ok := strings.CutPrefix(line, "Subject: "); ok {
			dec, err := new(mime.WordDecoder).DecodeHeader(s)
			must(e.t, err)
			subject = dec
		}
	}
	return subject, e.requestMail(addr)
}

func testMailReset(t *testing.T, h Harness) {
	e := newEnv(t, h)
	// The saved language wins over the language of the page the reset was asked on, which
	// counts only for a person who saved none.
	for i, c := range []struct{ saved, page, want string }{
		{"", "", "en"}, {"nb", "", "nb"}, {"pl", "", "pl"}, {"en", "", "en"},
		{"", "pl", "pl"}, {"", "nb", "nb"}, {"en", "nb", "en"}, {"nb", "pl", "nb"},
	} {
		lang, want := c.saved, c.want
		u, pw := e.newUser(e.staff(), &skjold.User{Email: fmt.Sprintf("reset-%d@operator.example", i), Name: "Rita Reset", Role: skjold.RoleSupport})
		if lang != "" {
			_, ctx := e.login(u.Email, pw, "")
			must(t, e.db.SetLanguage(ctx, lang))
		}
		ctx := e.anon()
		if c.page != "" {
			ctx = skjold.WithLanguage(ctx, c.page)
		}
		must(t, e.db.RequestReset(ctx, u.Email))
		subject, body := e.mailFor(u.Email)
		if !strings.Contains(body, mailWords[want].reset) || !strings.HasSuffix(subject, ": "+mailWords[want].resetSubject) {
			t.Errorf("saved language %q: reset e-mail %q:\n%s", lang, subject, body)
		}
		if !strings.Contains(body, "#token=skjold_r_") {
			t.Errorf("saved language %q: no link in the reset e-mail:\n%s", lang, body)
		}
		for other, w := range mailWords {
			if other != want && strings.Contains(body, w.reset) {
				t.Errorf("saved language %q: the reset e-mail also says %q", lang, w.reset)
			}
		}
	}
}

func testMailSubjects(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	for _, lang := range []string{"", "nb", "pl", "en"} {
		ctx := e.as(e.newTenant("Fjord Travel "+lang), "")
		if lang != "" {
			must(t, e.db.PutPrivacyNotice(ctx, &skjold.PrivacyNotice{Controller: "Fjord Travel AS", Language: lang}))
		}
		n, err := e.db.PrivacyNotice(ctx)
		must(t, err)
		want := cmpOr(lang, "en")
		if n.Language != want {
			t.Errorf("privacy facts' language = %q, want %q", n.Language, want)
		}
		s := e.newSubject(ctx, anna())
		r := &skjold.Request{Type: skjold.RequestAccess}
		must(t, e.db.OpenRequest(ctx, r, skjold.SubjectLookup{Email: s.Email}))
		subject, body := e.mailFor(s.Email)
		if !strings.Contains(body, mailWords[want].code) || !strings.HasSuffix(subject, ": "+mailWords[want].codeSubject) ||
			!strings.Contains(subject, "Fjord Travel") {
			t.Errorf("language %q: code e-mail %q:\n%s", lang, subject, body)
		}
		code := strings.TrimSpace(codeRE.FindString(body))
		if _, err := e.db.VerifyRequest(t.Context(), r.ID, code); err != nil {
			t.Fatalf("VerifyRequest with the code from the %q e-mail: %v", lang, err)
		}
		done, err := e.db.CompleteRequest(ctx, r.ID, nil)
		must(t, err)
		subject, body = e.mailFor(s.Email)
		if !strings.Contains(body, mailWords[want].link) || !strings.HasSuffix(subject, ": "+mailWords[want].linkSubject) ||
			!strings.Contains(body, done.Result.DownloadURL) {
			t.Errorf("language %q: link e-mail %q:\n%s", lang, subject, body)
		}
	}
	ctx := e.as(e.newTenant("Bad Language"), "")
	wantCode(t, e.db.PutPrivacyNotice(ctx, &skjold.PrivacyNotice{Language: "de"}), skjold.EINVALID)
	n, err := e.db.PrivacyNotice(ctx)
	must(t, err)
	if n.Language != "en" {
		t.Errorf("after a refused language the tenant's is %q", n.Language)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
