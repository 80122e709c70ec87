package http

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
)

// The alert settings page's requests for the route × caller matrix. The save sends no
// event to alert on, so an admitted manager gets the form's own 400 and nothing changes;
// the test finds no recipient yet and answers 409.
func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		return map[string]consoleBuild{
			"GET /console/operator/alerts": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/operator/alerts"}
			},
			"POST /console/operator/alerts": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/operator/alerts", form: url.Values{"emails": {"ops@example.com"}}, refusals: []int{400}}
			},
			"POST /console/operator/alerts/test": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/operator/alerts/test", form: url.Values{}, refusals: []int{409}}
			},
		}
	})
}

// receiver is a webhook receiver that checks each signature with the secret it is told.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []alert.Alert
	bad    int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if alert.Verify(rc.secret, r.Header.Get(alert.HeaderTimestamp), string(body), r.Header.Get(alert.HeaderSignature), time.Now(), 0) != nil {
			rc.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a alert.Alert
		json.Unmarshal(body, &a)
		rc.got = append(rc.got, a)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) use(secret string) { rc.mu.Lock(); rc.secret = secret; rc.mu.Unlock() }

type alertPut struct {
	Settings      skjold.AlertSettings `json:"settings"`
	WebhookSecret string               `json:"webhook_secret"`
}

// TestAlertSettingsAPI: operator staff read the settings, only an owner in person changes
// them, a new webhook secret is shown once and never read back, bad input changes
// nothing, and the change is audited without the addresses or the secret.
func TestAlertSettingsAPI(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	e.alerts.WithWebhookClient(func(w *alert.Webhook) { w.Client = rc.srv.Client() })
	owner := e.activeStaff(t, "", skjold.RoleOwner, "").session
	admin := e.activeStaff(t, "", skjold.RoleAdmin, "").session
	support := e.activeStaff(t, "", skjold.RoleSupport, "").session

	var got skjold.AlertSettings
	e.do(t, support, "GET", "/api/v1/operator/alerts", nil).want(t, 200).decode(t, &got)
	if got.Source != skjold.AlertSourceNone {
		t.Errorf("source before any setting = %q, want none", got.Source)
	}
	e.do(t, e.a.token, "GET", "/api/v1/operator/alerts", nil).want(t, 403)

	body := map[string]any{"emails": []string{"Ops@Example.com ", "oncall@example.com"}, "webhook_url": rc.srv.URL + "/hook?token=abc",
		"actions": []string{"backup.failed", "user.create"}, "min_severity": "warning", "language": "nb"}
	for name, who := range map[string]string{"operator token": e.operator, "operator admin": admin, "support": support} {
		if r := e.do(t, who, "PUT", "/api/v1/operator/alerts", body); r.status != 403 {
			t.Errorf("PUT by %s = %d, want 403", name, r.status)
		}
	}
	var put alertPut
	e.do(t, owner, "PUT", "/api/v1/operator/alerts", body).want(t, 200).decode(t, &put)
	if !strings.HasPrefix(put.WebhookSecret, "skw_") || len(put.WebhookSecret) < 40 {
		t.Fatalf("new webhook secret = %q", put.WebhookSecret)
	}
	s := put.Settings
	if s.Source != skjold.AlertSourceDatabase || strings.Join(s.Emails, ",") != "ops@example.com,oncall@example.com" ||
		!s.WebhookSecretSet || s.MinSeverity != "warning" || s.Language != "nb" || s.UpdatedAt == nil {
		t.Errorf("stored settings = %+v", s)
	}
	r := e.do(t, support, "GET", "/api/v1/operator/alerts", nil).want(t, 200)
	if strings.Contains(string(r.body), put.WebhookSecret) {
		t.Error("GET shows the webhook secret")
	}

	// Bad input: a plain-http webhook, an unknown action, too many recipients. Nothing changes.
	for field, bad := range map[string]map[string]any{
		"webhook_url": {"emails": []string{}, "webhook_url": "http://hooks.example.com/x", "actions": []string{"backup.failed"}},
		"actions":     {"emails": []string{"a@example.com"}, "actions": []string{"subject.read"}},
		"emails":      {"emails": []string{"not an address"}, "actions": []string{"backup.failed"}},
	} {
		r := e.do(t, owner, "PUT", "/api/v1/operator/alerts", bad).want(t, 400)
		if !strings.Contains(string(r.body), `"`+field+`"`) {
			t.Errorf("bad %s: %s", field, r.body)
		}
	}
	e.do(t, owner, "GET", "/api/v1/operator/alerts", nil).want(t, 200).decode(t, &got)
	if strings.Join(got.Emails, ",") != "ops@example.com,oncall@example.com" || !strings.HasSuffix(got.WebhookURL, "token=abc") {
		t.Errorf("settings after refused changes = %+v", got)
	}

	// Saving again keeps the secret; rotate_secret makes a new one.
	first := put.WebhookSecret
	var again alertPut
	e.do(t, owner, "PUT", "/api/v1/operator/alerts", body).want(t, 200).decode(t, &again)
	if again.WebhookSecret != "" {
		t.Error("saving again showed a secret")
	}
	body["rotate_secret"] = true
	var rotated alertPut
	e.do(t, owner, "PUT", "/api/v1/operator/alerts", body).want(t, 200).decode(t, &rotated)
	if rotated.WebhookSecret == "" || rotated.WebhookSecret == first {
		t.Fatal("rotate_secret made no new secret")
	}

	// The test alert reaches both recipients and the webhook, signed with the new secret.
	rc.use(rotated.WebhookSecret)
	var res struct {
		Deliveries []skjold.AlertDelivery `json:"deliveries"`
	}
	e.do(t, support, "POST", "/api/v1/operator/alerts/test", nil).want(t, 403)
	e.do(t, admin, "POST", "/api/v1/operator/alerts/test", nil).want(t, 200).decode(t, &res)
	if len(res.Deliveries) != 3 {
		t.Fatalf("deliveries = %+v", res.Deliveries)
	}
	for _, d := range res.Deliveries {
		if !d.OK || strings.Contains(d.Target, "token") {
			t.Errorf("delivery %+v", d)
		}
	}
	if mail := e.mailTo(t, "ops@example.com"); !strings.Contains(mail, "alerts.test") {
		t.Errorf("test alert e-mail: %s", mail)
	}
	e.mailTo(t, "oncall@example.com")
	if len(rc.got) != 1 || rc.got[0].Action != "alerts.test" || rc.bad != 0 {
		t.Errorf("webhook got %+v (%d badly signed)", rc.got, rc.bad)
	}

	// A webhook that refuses shows as not delivered, with no address in the message.
	rc.use("the old secret, which no longer matches")
	e.do(t, admin, "POST", "/api/v1/operator/alerts/test", nil).want(t, 200).decode(t, &res)
	if d := res.Deliveries[2]; d.OK || d.Channel != "webhook" || !strings.Contains(d.Error, "401") || strings.Contains(d.Error, "token") {
		t.Errorf("refused webhook: %+v", d)
	}

	// The audit names what changed, never an address or the secret.
	r = e.do(t, e.operator, "GET", "/api/v1/audit?action=alerts.update", nil).want(t, 200)
	for _, secret := range []string{"ops@example.com", rotated.WebhookSecret, first, "token=abc"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("audit shows %q: %s", secret, r.body)
		}
	}
	if !strings.Contains(string(r.body), "webhook_secret:new") || !strings.Contains(string(r.body), "emails:2") {
		t.Errorf("audit of alert changes: %s", r.body)
	}
	r = e.do(t, e.operator, "GET", "/api/v1/audit?action=alerts.test", nil).want(t, 200)
	if !strings.Contains(string(r.body), "webhook:failed") {
		t.Errorf("audit of test alerts: %s", r.body)
	}
}

// TestConsoleOperatorAlerts: the owner saves the settings in the console and sees the new
// secret once; support staff see the settings but no form they can use; a bad address is
// shown next to its field.
func TestConsoleOperatorAlerts(t *testing.T) {
	e := newEnv(t)
	c, _ := e.operatorConsole(t, skjold.RoleOwner)
	r := c.get(t, "/console/operator/alerts").want(t, 200)
	wantText(t, r, "Alert settings", "No alerts are sent", "Send a test alert")

	form := url.Values{"emails": {"oncall@example.com\nbad address"}, "webhook_url": {"https://127.0.0.1:1/skjold"},
		"actions": {"backup.failed", "drill.failed"}, "min_severity": {"critical"}, "language": {"pl"}}
	r = c.post(t, "/console/operator/alerts", form).want(t, 400)
	if !strings.Contains(string(r.body), `id="emails-error"`) || !strings.Contains(string(r.body), "bad address") {
		t.Errorf("bad address not shown next to its field: %.2000s", text(r.body))
	}
	form.Set("emails", "oncall@example.com\nsecond@example.com")
	r = c.post(t, "/console/operator/alerts", form).want(t, 200)
	wantText(t, r, "The alert settings are saved", "shown only this once", "were saved in the console")
	m := regexp.MustCompile(`<code id="webhook-secret">(skw_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(string(r.body))
	if m == nil {
		t.Fatal("no new secret on the page")
	}
	secret := m[1]
	r = c.get(t, "/console/operator/alerts").want(t, 200)
	if strings.Contains(string(r.body), secret) {
		t.Error("the secret is shown again")
	}
	wantText(t, r, "second@example.com", "A signing secret is set")

	sc, _ := e.operatorConsole(t, skjold.RoleSupport)
	r = sc.get(t, "/console/operator/alerts").want(t, 200)
	wantText(t, r, "Only an operator owner can change", "oncall@example.com")
	if !strings.Contains(string(r.body), `class="alerts-fields" disabled`) || strings.Contains(string(r.body), "/console/operator/alerts/test") {
		t.Error("support staff get a usable form")
	}
	ac, _ := e.operatorConsole(t, skjold.RoleAdmin)
	ac.post(t, "/console/operator/alerts", form).want(t, 403)

	// The test button on a webhook nobody answers: e-mail delivered, webhook not.
	r = ac.post(t, "/console/operator/alerts/test", url.Values{}).want(t, 200)
	wantText(t, r, "How the test alert went", "Delivered", "Not delivered")
	e.mailTo(t, "oncall@example.com")
}

// alertRecipient makes sure that the alert settings name a recipient, so that a test alert
// has somewhere to go.
func (e *env) alertRecipient(t *testing.T) {
	t.Helper()
	ctx := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "user:test-owner", UserID: "test-owner", Operator: true,
		Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
	if _, _, err := e.alerts.SetAlertSettings(ctx, &skjold.AlertSettingsUpdate{Emails: []string{"ops@example.com"},
		Actions: []string{"backup.failed"}}); err != nil {
		t.Fatal(err)
	}
}
