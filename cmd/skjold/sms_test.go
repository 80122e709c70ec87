package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// smsCode is the one-time code at the start of a verification SMS.
var smsCode = regexp.MustCompile(`^\d{8}`)

// phoneOnlyRequest creates a tenant and a subject with a phone number and no e-mail address,
// and opens an access request for them by phone; it returns the tenant's token and the
// request's id.
func phoneOnlyRequest(t *testing.T, s *server, phone string) (string, string) {
	t.Helper()
	var tenant struct {
		Token created `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/tenants", readToken(t, s.data), map[string]string{"name": "Fjord SMS AS"}, &tenant); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	tok := tenant.Token.Secret
	if code := s.call(t, "POST", "/api/v1/subjects", tok, map[string]string{"phone": phone, "name": "Kari Telefon"}, nil); code != 201 {
		t.Fatalf("create subject: %d", code)
	}
	var req struct{ ID string }
	if code := s.call(t, "POST", "/api/v1/requests", tok, map[string]string{"type": "access", "phone": phone}, &req); code != 201 {
		t.Fatalf("open request by phone: %d", code)
	}
	return tok, req.ID
}

// verifyBySMS verifies the request with the code the SMS carried.
func verifyBySMS(t *testing.T, s *server, id, text string) {
	t.Helper()
	code := smsCode.FindString(text)
	if code == "" || !strings.Contains(text, "Fjord SMS AS") {
		t.Fatalf("SMS without code or tenant: %q", text)
	}
	var out struct{ Status string }
	if got := s.call(t, "POST", "/api/v1/requests/"+id+"/verify", "", map[string]string{"code": code}, &out); got != 200 || out.Status != "in_progress" {
		t.Fatalf("verify with the SMS code: %d %+v", got, out)
	}
}

// TestSMSCodeOutbox checks that without a gateway a subject who has only a phone number
// gets the request's code as a file in <data>/sms-outbox, and the code verifies it.
func TestSMSCodeOutbox(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	_, id := phoneOnlyRequest(t, s, "+47 912 34 567")
	var text string
	for deadline := time.Now().Add(15 * time.Second); text == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(data, "sms-outbox", "*.sms"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if to, body, ok := strings.Cut(string(b), "\n\n"); ok && to == "To: +4791234567" {
				text = strings.TrimSpace(body)
			}
		}
	}
	verifyBySMS(t, s, id, text)
	if strings.Contains(s.stderr.String(), "91234567") {
		t.Error("the log holds the phone number")
	}
}

// TestSMSCodeGateway checks the HTTPS gateway configured through the environment: the
// code reaches a fake gateway with the credential read from sms_gateway_auth_file, in the
// configured body template, and the code verifies the request.
func TestSMSCodeGateway(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies []map[string]string
	gw := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]string
		json.Unmarshal(b, &m)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, m)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer gw.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "gateway.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gw.Certificate().Raw}), 0o600)
	authFile := filepath.Join(dir, "sms-auth")
	os.WriteFile(authFile, []byte("Bearer gw-s3cret\n"), 0o600)
	data := filepath.Join(dir, "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_SMS_GATEWAY_URL": gw.URL + "/messages",
		"SKJOLD_SMS_GATEWAY_AUTH_HEADER": "Authorization", "SKJOLD_SMS_GATEWAY_AUTH_FILE": authFile,
		"SKJOLD_SMS_GATEWAY_CA_FILE": ca, "SKJOLD_SMS_FROM": "Fjord",
		"SKJOLD_SMS_GATEWAY_BODY": `{"recipient":{{json .To}},"sender":{{json .From}},"message":{{json .Body}}}`})
	_, id := phoneOnlyRequest(t, s, "+47 912 34 567")
	var text string
	for deadline := time.Now().Add(15 * time.Second); text == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		for i, r := range got {
			if r.URL.Path == "/messages" && r.Header.Get("Authorization") == "Bearer gw-s3cret" &&
				bodies[i]["recipient"] == "+4791234567" && bodies[i]["sender"] == "Fjord" {
				text = bodies[i]["message"]
			}
		}
		mu.Unlock()
	}
	verifyBySMS(t, s, id, text)
	if _, err := os.Stat(filepath.Join(data, "sms-outbox")); err == nil {
		t.Error("an SMS outbox was made although a gateway is configured")
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), "gw-s3cret") {
		t.Error("the gateway's secret is in the output")
	}
}
