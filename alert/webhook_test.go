package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

var testSecret = []byte("0123456789abcdef-webhook-secret")

// event stands in for a security alert.
type event struct {
	Kind   string    `json:"kind"`
	Tenant string    `json:"tenant"`
	At     time.Time `json:"at"`
}

// request is what a receiver got.
type request struct {
	method string
	header http.Header
	body   []byte
}

// receiver is an outside system's HTTPS endpoint that records requests and answers with
// status.
type receiver struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []request
}

func startReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, request{req.Method, req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// webhook returns a Webhook posting to r under path.
func (r *receiver) webhook(path string) *Webhook {
	return &Webhook{URL: r.srv.URL + path, Secret: testSecret, Client: r.srv.Client()}
}

func TestSend(t *testing.T) {
	r := startReceiver(t, http.StatusNoContent)
	ev := event{Kind: "login_failures", Tenant: "t-1", At: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)}
	before := time.Now()
	if err := r.webhook("/hooks/skjold").Send(t.Context(), ev); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.method != http.MethodPost || req.header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s with Content-Type %q", req.method, req.header.Get("Content-Type"))
	}
	ts, sig := req.header.Get(HeaderTimestamp), req.header.Get(HeaderSignature)
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || sec < before.Unix() || sec > time.Now().Unix() {
		t.Errorf("%s = %q, want the Unix time of sending", HeaderTimestamp, ts)
	}
	// Recompute the signature independently of sign, as a receiver in another language would.
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte(ts + "." + string(req.body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); sig != want {
		t.Errorf("%s = %q, want %q", HeaderSignature, sig, want)
	}
	if err := Verify(string(testSecret), ts, string(req.body), sig, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	var got event
	if err := json.Unmarshal(req.body, &got); err != nil || got != ev {
		t.Errorf("body decodes to %+v, %v; want %+v", got, err, ev)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1773483300, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := `{"kind":"login_failures"}`
	sig := "sha256=" + hex.EncodeToString(sign(testSecret, ts, []byte(body)))
	tests := []struct {
		name                  string
		secret, ts, body, sig string
		now                   time.Time
		tolerance             time.Duration
		wantErr               bool
	}{
		{"valid", string(testSecret), ts, body, sig, now, time.Minute, false},
		{"valid at the edge of tolerance", string(testSecret), ts, body, sig, now.Add(time.Minute), time.Minute, false},
		{"valid with default tolerance", string(testSecret), ts, body, sig, now.Add(4 * time.Minute), 0, false},
		{"tampered body", string(testSecret), ts, `{"kind":"nothing"}`, sig, now, time.Minute, true},
		{"body with extra space", string(testSecret), ts, body + " ", sig, now, time.Minute, true},
		{"stale timestamp", string(testSecret), ts, body, sig, now.Add(time.Minute + time.Second), time.Minute, true},
		{"stale with default tolerance", string(testSecret), ts, body, sig, now.Add(6 * time.Minute), 0, true},
		{"timestamp from the future", string(testSecret), ts, body, sig, now.Add(-2 * time.Minute), time.Minute, true},
		{"timestamp changed", string(testSecret), strconv.FormatInt(now.Unix()+1, 10), body, sig, now, time.Minute, true},
		{"timestamp not a number", string(testSecret), "yesterday", body, sig, now, time.Minute, true},
		{"wrong secret", "another-secret-of-enough-length", ts, body, sig, now, time.Minute, true},
		{"empty secret", "", ts, body, sig, now, time.Minute, true},
		{"no prefix", string(testSecret), ts, body, strings.TrimPrefix(sig, "sha256="), now, time.Minute, true},
		{"other algorithm", string(testSecret), ts, body, "sha1=" + strings.TrimPrefix(sig, "sha256="), now, time.Minute, true},
		{"not hex", string(testSecret), ts, body, "sha256=zz", now, time.Minute, true},
		{"truncated", string(testSecret), ts, body, sig[:len(sig)-2], now, time.Minute, true},
		{"empty signature", string(testSecret), ts, body, "", now, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.ts, tt.body, tt.sig, tt.now, tt.tolerance)
			if !tt.wantErr && err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
			if tt.wantErr && skjold.ErrorCode(err) != skjold.EUNAUTHORIZED {
				t.Fatalf("Verify = %v, want %s", err, skjold.EUNAUTHORIZED)
			}
		})
	}
}

func TestSendStatus(t *testing.T) {
	tests := []struct {
		status  int
		wantErr bool
	}{
		{http.StatusOK, false},
		{http.StatusAccepted, false},
		{http.StatusNoContent, false},
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusNotFound, true},
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			r := startReceiver(t, tt.status)
			err := r.webhook("/hook").Send(t.Context(), event{Kind: "k"})
			if !tt.wantErr && err != nil {
				t.Fatalf("Send = %v, want nil", err)
			}
			if tt.wantErr && skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
				t.Fatalf("Send = %v, want %s", err, skjold.EUNAVAILABLE)
			}
			if n := len(r.requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1 (no retries)", n)
			}
		})
	}
}

func TestSendUnreachable(t *testing.T) {
	r := startReceiver(t, http.StatusOK)
	const token = "T0KEN-in-the-path"
	w := r.webhook("/hooks/" + token + "?key=" + token)
	r.srv.Close()
	err := w.Send(t.Context(), event{Kind: "k"})
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Fatalf("Send = %v, want %s", err, skjold.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error %q quotes the URL's token", err)
	}
}

func TestSendCancelled(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(arrived)
		<-release // never answers while the test runs, not even when the client goes away
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handler
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		w := &Webhook{URL: srv.URL, Secret: testSecret, Client: srv.Client()}
		errc <- w.Send(ctx, event{Kind: "k"})
	}()
	<-arrived
	cancel()
	if err := <-errc; skjold.ErrorCode(err) != skjold.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want %s wrapping %v", err, skjold.EUNAVAILABLE, context.Canceled)
	}
}

func TestSendRefuses(t *testing.T) {
	r := startReceiver(t, http.StatusOK)
	tests := []struct {
		name  string
		w     *Webhook
		event any
		code  string
		field string
	}{
		{"plain http", &Webhook{URL: strings.Replace(r.srv.URL, "https:", "http:", 1), Secret: testSecret,
			Client: r.srv.Client()}, event{}, skjold.EINVALID, "url"},
		{"no URL", &Webhook{Secret: testSecret, Client: r.srv.Client()}, event{}, skjold.EINVALID, "url"},
		{"relative URL", &Webhook{URL: "/hook", Secret: testSecret, Client: r.srv.Client()}, event{}, skjold.EINVALID, "url"},
		{"no secret", &Webhook{URL: r.srv.URL, Client: r.srv.Client()}, event{}, skjold.EINVALID, "secret"},
		{"short secret", &Webhook{URL: r.srv.URL, Secret: []byte("short"), Client: r.srv.Client()}, event{}, skjold.EINVALID, "secret"},
		{"event not JSON", r.webhook("/hook"), make(chan int), skjold.EINTERNAL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Send(t.Context(), tt.event)
			var e *skjold.Error
			if skjold.ErrorCode(err) != tt.code || tt.field != "" && (!errors.As(err, &e) || e.Field != tt.field) {
				t.Fatalf("Send = %v, want %s for field %q", err, tt.code, tt.field)
			}
		})
	}
	if n := len(r.requests()); n != 0 {
		t.Errorf("receiver got %d requests, want none", n)
	}
}

func FuzzVerify(f *testing.F) {
	ts := "1773483300"
	f.Add(string(testSecret), ts, `{"kind":"k"}`, "sha256="+hex.EncodeToString(sign(testSecret, ts, []byte(`{"kind":"k"}`))))
	f.Add("s", "-9223372036854775808", "", "sha256=")
	f.Add("s", "9223372036854775807", "x", "sha256=00")
	now := time.Unix(1773483300, 0)
	f.Fuzz(func(t *testing.T, secret, timestamp, body, signature string) {
		err := Verify(secret, timestamp, body, signature, now, time.Hour)
		if err == nil {
			want := "sha256=" + hex.EncodeToString(sign([]byte(secret), timestamp, []byte(body)))
			if !strings.EqualFold(signature, want) || secret == "" {
				t.Fatalf("Verify accepted signature %q, want %q", signature, want)
			}
		} else if skjold.ErrorCode(err) != skjold.EUNAUTHORIZED {
			t.Fatalf("Verify = %v, want %s", err, skjold.EUNAUTHORIZED)
		}
	})
}
