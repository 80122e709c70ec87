package sms

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

const (
	tenantID  = "0193a3e0-0000-7000-8000-000000000001"
	subjectID = "0193a3e0-0000-7000-8000-0000000000a1"
)

// TestOutbox checks that each message lands whole in its own file, with mode 0600, named
// for the subject; that Forget and Sweep remove them; and that bad input writes nothing.
func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sms")
	o, err := NewOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.SendSMS(ctx, skjold.SMS{To: "+47 912 34 567", Body: "Your code: 12345678", TenantID: tenantID, SubjectID: subjectID}); err != nil {
		t.Fatal(err)
	}
	if err := o.SendSMS(ctx, skjold.SMS{To: "+4791234567", Body: "Hello"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []skjold.SMS{{To: "call me", Body: "x"}, {To: "123", Body: "x"}, {To: "+4791234567", Body: ""},
		{To: "+4791234567", Body: strings.Repeat("x", skjold.MaxSMSBody+1)}} {
		err := o.SendSMS(ctx, bad)
		if skjold.ErrorCode(err) != skjold.EINVALID || strings.Contains(err.Error(), "call me") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files, want 2", len(entries))
	}
	var found bool
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode())
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if strings.Contains(e.Name(), subjectID) {
			found = true
			if string(b) != "To: +4791234567\n\nYour code: 12345678\n" {
				t.Errorf("file holds %q", b)
			}
		}
	}
	if !found {
		t.Error("the subject's message is not named for them")
	}
	if n, err := o.Forget(tenantID, subjectID); n != 1 || err != nil {
		t.Errorf("Forget: %d, %v", n, err)
	}
	if n, err := o.Sweep(time.Now()); n != 0 || err != nil {
		t.Errorf("Sweep now: %d, %v", n, err)
	}
	if n, err := o.Sweep(time.Now().Add(MaxAge + time.Hour)); n != 1 || err != nil {
		t.Errorf("Sweep later: %d, %v", n, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutbox(dir); err == nil {
		t.Error("an outbox open to others is accepted")
	}
}

// fakeGateway is an HTTPS SMS gateway inside the test: it records what it gets and answers
// with status.
type fakeGateway struct {
	*httptest.Server
	mu     sync.Mutex
	got    []*http.Request
	bodies []string
	status int
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{status: http.StatusAccepted}
	g.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.got, g.bodies = append(g.got, r), append(g.bodies, string(b))
		status := g.status
		g.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"number +4791234567 unknown"}`)
	}))
	t.Cleanup(g.Close)
	return g
}

// TestGateway sends through a fake HTTPS gateway: the default JSON body, the auth header,
// a form-encoded template; a refusal and an unreachable gateway are EUNAVAILABLE and name
// neither the number nor the text; bad settings are refused.
func TestGateway(t *testing.T) {
	fake := newFakeGateway(t)
	ctx := context.Background()
	g, err := NewGateway(GatewayConfig{URL: fake.URL + "/v1/sms", AuthHeader: "Authorization", AuthValue: "Bearer s3cret",
		From: "Skjold", Client: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SendSMS(ctx, skjold.SMS{To: "+47 912 34 567", Body: "Kode: \"1234\"\nÆØÅ"}); err != nil {
		t.Fatal(err)
	}
	r := fake.got[0]
	if r.Method != "POST" || r.URL.Path != "/v1/sms" || r.Header.Get("Authorization") != "Bearer s3cret" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(fake.bodies[0]), &body); err != nil {
		t.Fatalf("body %q: %v", fake.bodies[0], err)
	}
	if body["to"] != "+4791234567" || body["from"] != "Skjold" || body["text"] != "Kode: \"1234\"\nÆØÅ" {
		t.Errorf("body %v", body)
	}

	form, err := NewGateway(GatewayConfig{URL: fake.URL, AuthHeader: "X-Api-Key", AuthValue: "k", Client: fake.Client(),
		ContentType: "application/x-www-form-urlencoded", Body: `to={{urlquery .To}}&message={{urlquery .Body}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := form.SendSMS(ctx, skjold.SMS{To: "+4791234567", Body: "a&b c"}); err != nil {
		t.Fatal(err)
	}
	v, _ := url.ParseQuery(fake.bodies[1])
	if v.Get("to") != "+4791234567" || v.Get("message") != "a&b c" || fake.got[1].Header.Get("X-Api-Key") != "k" {
		t.Errorf("form body %q", fake.bodies[1])
	}

	fake.status = http.StatusBadRequest
	err = g.SendSMS(ctx, skjold.SMS{To: "+4791234567", Body: "secret text"})
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE || strings.Contains(err.Error(), "4791234567") || strings.Contains(err.Error(), "secret") {
		t.Errorf("refusal: %v", err)
	}
	fake.Close()
	err = g.SendSMS(ctx, skjold.SMS{To: "+4791234567", Body: "x"})
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Errorf("unreachable: %v", err)
	}
	if err := g.SendSMS(ctx, skjold.SMS{To: "nope", Body: "x"}); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("bad number: %v", err)
	}

	for _, c := range []GatewayConfig{{URL: "http://gw.example/sms"}, {URL: "https://user:pw@gw.example/"},
		{URL: "https://gw.example/", AuthHeader: "Bad Header"}, {URL: "https://gw.example/", AuthValue: "a\r\nX: y"},
		{URL: "https://gw.example/", Body: "{{.To"}} {
		if _, err := NewGateway(c); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%+v accepted: %v", c, err)
		}
	}
}

// TestGatewayRejectsUntrustedCertificate checks that the gateway's certificate is verified.
func TestGatewayRejectsUntrustedCertificate(t *testing.T) {
	fake := newFakeGateway(t)
	g, err := NewGateway(GatewayConfig{URL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SendSMS(context.Background(), skjold.SMS{To: "+4791234567", Body: "x"}); skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Errorf("untrusted certificate: %v", err)
	}
	if len(fake.got) != 0 {
		t.Error("the message reached a gateway with an untrusted certificate")
	}
}
