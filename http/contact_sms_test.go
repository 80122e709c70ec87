package http

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// smsFiles returns the texts of the SMS outbox's messages to number.
func smsFiles(t *testing.T, e *env, number string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(e.dbPath), "sms-outbox", "*.sms"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if to, body, ok := strings.Cut(string(b), "\n\n"); ok && to == "To: "+number {
			out = append(out, strings.TrimSpace(body))
		}
	}
	return out
}

// TestContactSMS checks that a tenant's text message goes through the contact guard: sent
// when the purpose uses SMS, the subject has a phone and consent, within the cap; not sent,
// with the reasons, without consent, on a purpose without the sms channel, to a subject
// without a phone, and once the cap is used up; bad input changes nothing.
func TestContactSMS(t *testing.T) {
	e := newEnv(t)
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/reminders", map[string]any{"legal_basis": "consent",
		"notice": "We remind you of appointments by SMS.", "channels": []string{"sms"}, "cap": map[string]any{"max": 1, "period": "P1D"}}).want(t, 201)
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/letters", map[string]any{"legal_basis": "consent",
		"notice": "Letters.", "channels": []string{"email"}}).want(t, 201)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Per", "phone": "+47 400 00 001"})
	noPhone := e.createSubject(t, e.a.token, map[string]string{"name": "Pål", "email": "pal@example.com"})
	send := func(subject, purpose string) (skjold.ContactCheck, bool) {
		t.Helper()
		var got struct {
			skjold.ContactCheck
			SMSSent bool `json:"sms_sent"`
		}
		e.do(t, e.a.token, "POST", "/api/v1/contact-sms", map[string]any{"subject_id": subject, "purpose": purpose,
			"text": "Your appointment is tomorrow at 10."}).want(t, 200).decode(t, &got)
		return got.ContactCheck, got.SMSSent
	}
	if got, sent := send(s.ID, "reminders"); sent || !slices.Equal(got.Reasons, []string{"no_consent"}) {
		t.Errorf("without consent: %+v sent=%v", got, sent)
	}
	for _, sub := range []*skjold.Subject{s, noPhone} {
		for _, p := range []string{"reminders", "letters"} {
			e.do(t, e.a.token, "POST", "/api/v1/subjects/"+sub.ID+"/consents", map[string]any{"purpose": p, "granted": true}).want(t, 201)
		}
	}
	if got, sent := send(s.ID, "reminders"); !sent || !got.Allowed || got.Channel != "sms" || got.Sent != 1 {
		t.Errorf("with consent: %+v sent=%v", got, sent)
	}
	if texts := smsFiles(t, e, "+4740000001"); len(texts) != 1 || texts[0] != "Your appointment is tomorrow at 10." {
		t.Errorf("SMS outbox: %q", texts)
	}
	if got, sent := send(s.ID, "reminders"); sent || !slices.Equal(got.Reasons, []string{"cap_reached"}) {
		t.Errorf("over the cap: %+v sent=%v", got, sent)
	}
	if got, sent := send(s.ID, "letters"); sent || !slices.Equal(got.Reasons, []string{"channel_not_allowed"}) {
		t.Errorf("a purpose without SMS: %+v sent=%v", got, sent)
	}
	if got, sent := send(noPhone.ID, "reminders"); sent || !slices.Equal(got.Reasons, []string{"no_address"}) {
		t.Errorf("no phone: %+v sent=%v", got, sent)
	}
	if n := len(smsFiles(t, e, "+4740000001")); n != 1 {
		t.Errorf("%d messages sent, want 1", n)
	}
	for _, c := range []struct {
		body        any
		status      int
		code, field string
	}{
		{map[string]any{"subject_id": s.ID, "purpose": "reminders", "text": ""}, 400, skjold.EINVALID, "text"},
		{map[string]any{"subject_id": s.ID, "purpose": "reminders", "text": strings.Repeat("x", skjold.MaxSMSBody+1)}, 400, skjold.EINVALID, "text"},
		{map[string]any{"purpose": "reminders", "text": "hi"}, 400, skjold.EINVALID, "subject_id"},
		{map[string]any{"subject_id": s.ID, "purpose": "unregistered", "text": "hi"}, 404, skjold.ENOTFOUND, ""},
	} {
		e.unchanged(t, func() {
			if got := e.do(t, e.a.token, "POST", "/api/v1/contact-sms", c.body).wantError(t, c.status, c.code); got.Field != c.field {
				t.Errorf("%v: field %q, want %q", c.body, got.Field, c.field)
			}
		})
	}
}

// TestPrivacyRequestBySMS checks that the privacy center sends the code by SMS to a subject
// who has only a phone number on file, and that the code verifies the request; an unknown
// number gets the same page and no message.
func TestPrivacyRequestBySMS(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Per", "phone": "+47 400 00 002"})
	c := e.consoleClient(t)
	unknown := c.pcOpen(t, url.Values{"type": {"access"}, "phone": {"+47 400 00 099"}}).want(t, 200)
	known := c.pcOpen(t, url.Values{"type": {"access"}, "phone": {"+47 400 00 002"}}).want(t, 200)
	strip := func(r *reply) string { return pcRequestID.ReplaceAllString(string(r.body), "") }
	if strip(unknown) != strip(known) {
		t.Errorf("the answers differ:\n%s\n---\n%s", unknown.body, known.body)
	}
	var texts []string
	for deadline := time.Now().Add(10 * time.Second); len(texts) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		texts = smsFiles(t, e, "+4740000002")
	}
	if len(texts) != 1 || !strings.Contains(texts[0], "Tenant A") {
		t.Fatalf("SMS outbox: %q", texts)
	}
	if n := len(smsFiles(t, e, "+4740000099")); n != 0 {
		t.Error("an unknown number got a message")
	}
	code := regexp.MustCompile(`^\d{8}`).FindString(texts[0])
	id := pcRequestID.FindStringSubmatch(string(known.body))[1]
	c.pcPost(t, "tenant-a", "verify", url.Values{"id": {id}, "code": {code}}).wantRedirect(t, "/p/tenant-a/status")
}
