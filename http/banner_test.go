package http

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

const bannerSite = "https://www.tenant-a.example"

// bannerEnv gives tenant A a consent purpose and a banner that asks for it on bannerSite.
func bannerEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/analytics", map[string]any{"legal_basis": "consent",
		"notice": "We count visits to improve the site."}).want(t, 201)
	e.do(t, e.a.token, "PUT", "/api/v1/settings/banner", map[string]any{"origins": []string{bannerSite},
		"purposes": []string{"analytics"}}).want(t, 200)
	return e
}

// bannerCall sends a request to a banner route as a website's browser would, with headers.
func bannerCall(t *testing.T, e *env, method, path string, header map[string]string, body string) *reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	r := &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header}
	r.body, _ = io.ReadAll(resp.Body)
	return r
}

func receiptBody(id, method string, analytics bool) string {
	b, _ := json.Marshal(map[string]any{"consent_id": strings.Repeat(id, 32/len(id)), "method": method,
		"choices": map[string]bool{"analytics": analytics}, "notice_versions": map[string]int{"analytics": 1}})
	return string(b)
}

// receipts returns tenant A's receipts through the API's export.
func receipts(t *testing.T, e *env, token string) []*skjold.ConsentReceipt {
	t.Helper()
	var out struct{ Items []*skjold.ConsentReceipt }
	if err := json.Unmarshal(e.do(t, token, "GET", "/api/v1/consent-receipts", nil).want(t, 200).body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// TestBannerAssets checks the script and stylesheet: served to any page, small, cacheable.
func TestBannerAssets(t *testing.T) {
	e := bannerEnv(t)
	js := bannerCall(t, e, "GET", "/p/tenant-a/banner.js", nil, "").want(t, 200)
	if len(js.body) >= 15*1024 || !bytes.Equal(js.body, web.BannerJS) {
		t.Errorf("banner.js is %d bytes (want under 15 KB, the embedded script)", len(js.body))
	}
	if ct := js.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") || js.header.Get("Set-Cookie") != "" {
		t.Errorf("banner.js headers: %v", js.header)
	}
	css := bannerCall(t, e, "GET", "/p/tenant-a/banner.css", nil, "").want(t, 200)
	if !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(string(css.body), ".skjold-banner") {
		t.Errorf("banner.css: %v", css.header)
	}
	bannerCall(t, e, "GET", "/p/no-such-tenant/banner.js", nil, "").want(t, 404)
}

// TestBannerCORS checks that only the tenant's website origins get the configuration and
// CORS headers, preflight included; any other origin gets no CORS header and a refusal.
func TestBannerCORS(t *testing.T) {
	e := bannerEnv(t)
	r := bannerCall(t, e, "GET", "/p/tenant-a/banner.json?lang=nb", map[string]string{"Origin": bannerSite, "Sec-GPC": "1"}, "").want(t, 200)
	if r.header.Get("Access-Control-Allow-Origin") != bannerSite {
		t.Errorf("allowed origin: %v", r.header)
	}
	var cfg struct {
		Lang     string
		GPC      bool
		Text     map[string]string
		Purposes []struct {
			Name          string
			NoticeVersion int `json:"notice_version"`
		}
	}
	if err := json.Unmarshal(r.body, &cfg); err != nil || cfg.Lang != "nb" || !cfg.GPC || cfg.Text["reject_all"] != "Avvis alle" ||
		len(cfg.Purposes) != 1 || cfg.Purposes[0].Name != "analytics" || cfg.Purposes[0].NoticeVersion != 1 {
		t.Fatalf("config: %s, %v", r.body, err)
	}
	for _, lang := range []string{"en", "nb", "pl", "xx"} {
		r := bannerCall(t, e, "GET", "/p/tenant-a/banner.json?lang="+lang, map[string]string{"Origin": bannerSite}, "").want(t, 200)
		var got struct {
			Lang string
			Text map[string]string
		}
		json.Unmarshal(r.body, &got)
		if want := map[string]string{"xx": "en"}[lang]; got.Lang != lang && got.Lang != want {
			t.Errorf("?lang=%s answered %q", lang, got.Lang)
		}
		for _, k := range bannerText {
			if v := got.Text[k]; v == "" || strings.Contains(v, "[[") {
				t.Errorf("%s: text %s is %q", lang, k, v)
			}
		}
	}
	for _, origin := range []string{"https://evil.example", "http://www.tenant-a.example", ""} {
		r := bannerCall(t, e, "GET", "/p/tenant-a/banner.json", map[string]string{"Origin": origin}, "").want(t, 403)
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q got CORS headers", origin)
		}
	}
	pre := bannerCall(t, e, "OPTIONS", "/p/tenant-a/consent-receipts", map[string]string{"Origin": bannerSite,
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, "").want(t, 204)
	if pre.header.Get("Access-Control-Allow-Origin") != bannerSite || pre.header.Get("Access-Control-Allow-Methods") != "POST" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight: %v", pre.header)
	}
	bad := bannerCall(t, e, "OPTIONS", "/p/tenant-a/consent-receipts", map[string]string{"Origin": "https://evil.example",
		"Access-Control-Request-Method": "POST"}, "").want(t, 403)
	if bad.header.Get("Access-Control-Allow-Origin") != "" || bad.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of another origin: %v", bad.header)
	}
	evil := map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}
	bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", evil, receiptBody("ab", "accept_all", true)).want(t, 403)
	if n := len(receipts(t, e, e.a.token)); n != 0 {
		t.Fatalf("a receipt from another origin was stored (%d)", n)
	}
}

// TestBannerReceipts checks that a receipt from the website is stored with a keyed hash and
// no user agent, that Sec-GPC makes it an opt-out, that bad input is refused with nothing
// stored, and that another tenant sees none of it.
func TestBannerReceipts(t *testing.T) {
	e := bannerEnv(t)
	h := map[string]string{"Origin": bannerSite, "Content-Type": "application/json", "User-Agent": "Fjord Browser 1.0"}
	r := bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, receiptBody("ab", "choose", true)).want(t, 201)
	if r.header.Get("Access-Control-Allow-Origin") != bannerSite {
		t.Errorf("receipt answer without CORS: %v", r.header)
	}
	gpc := map[string]string{"Origin": bannerSite, "Content-Type": "application/json", "Sec-GPC": "1"}
	bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", gpc, receiptBody("cd", "accept_all", true)).want(t, 201)
	rs := receipts(t, e, e.a.token)
	if len(rs) != 2 || !rs[0].Choices["analytics"] || rs[0].GPC || !rs[1].GPC || rs[1].Choices["analytics"] ||
		len(rs[0].UserAgentHash) != 64 || strings.Contains(string(e.do(t, e.a.token, "GET", "/api/v1/consent-receipts?format=csv", nil).body), "Fjord Browser") {
		t.Fatalf("receipts: %+v", rs)
	}
	csv := e.do(t, e.a.token, "GET", "/api/v1/consent-receipts?format=csv", nil).want(t, 200)
	if !strings.HasPrefix(string(csv.body), "id,created_at,") || strings.Count(string(csv.body), "\n") != 3 {
		t.Errorf("CSV export: %s", csv.body)
	}
	e.do(t, e.a.token, "GET", "/api/v1/consent-receipts?format=xml", nil).want(t, 400)
	e.do(t, e.a.token, "GET", "/api/v1/consent-receipts?from=yesterday", nil).want(t, 400)
	for name, body := range map[string]string{
		"consent id":    strings.Replace(receiptBody("ab", "choose", true), "abab", "ABAB", 1),
		"method":        receiptBody("ab", "maybe", true),
		"other purpose": `{"consent_id":"` + strings.Repeat("a", 32) + `","method":"choose","choices":{"pixels":true},"notice_versions":{"pixels":1}}`,
		"unknown field": `{"consent_id":"` + strings.Repeat("a", 32) + `","method":"choose","choices":{"analytics":true},"notice_versions":{"analytics":1},"ip":"1.2.3.4"}`,
		"not json":      `consent=yes`,
		"too large":     `{"consent_id":"` + strings.Repeat("a", 20000) + `"}`,
	} {
		r := bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, body)
		if r.status != 400 && r.status != 413 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: answer %s", name, r.header.Get("Content-Type"))
		}
	}
	if n := len(receipts(t, e, e.a.token)); n != 2 {
		t.Errorf("bad receipts changed the count to %d", n)
	}
	if n := len(receipts(t, e, e.b.token)); n != 0 {
		t.Errorf("tenant B sees %d of A's receipts", n)
	}
	// Tenant B has no banner: its receipts are refused, and A's origin is not B's.
	bannerCall(t, e, "POST", "/p/tenant-b/consent-receipts", h, receiptBody("ab", "choose", true)).want(t, 403)
}

// TestBannerRateLimit checks the per-address limit on receipts: 429 with Retry-After.
func TestBannerRateLimit(t *testing.T) {
	e := bannerEnv(t)
	old := bannerReceiptsPerAddr
	bannerReceiptsPerAddr = 3
	t.Cleanup(func() { bannerReceiptsPerAddr = old })
	h := map[string]string{"Origin": bannerSite, "Content-Type": "application/json"}
	for range 3 {
		bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, receiptBody("ef", "reject_all", false)).want(t, 201)
	}
	r := bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, receiptBody("ef", "reject_all", false)).want(t, 429)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", r.header)
	}
	if n := len(receipts(t, e, e.a.token)); n != 3 {
		t.Errorf("%d receipts stored, want 3", n)
	}
	// Per tenant: every address together.
	oldTenant := bannerPerTenant
	bannerPerTenant = 1
	t.Cleanup(func() { bannerPerTenant = oldTenant })
	bannerCall(t, e, "GET", "/p/tenant-b/banner.js", nil, "").want(t, 200)
	bannerCall(t, e, "GET", "/p/tenant-b/banner.js", nil, "").want(t, 429)
}

// TestConsoleBanner checks the console page: the snippet, the statistics, the export, and
// the admin's settings form refusing a bad origin with a message and no change.
func TestConsoleBanner(t *testing.T) {
	e := bannerEnv(t)
	h := map[string]string{"Origin": bannerSite, "Content-Type": "application/json"}
	bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, receiptBody("ab", "accept_all", true)).want(t, 201)
	bannerCall(t, e, "POST", "/p/tenant-a/consent-receipts", h, receiptBody("cd", "reject_all", false)).want(t, 201)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	r := c.get(t, "/console/consent-banner").want(t, 200)
	checkPage(t, r)
	wantText(t, r, "/p/tenant-a/banner.js", "2 choices stored", "50 %", bannerSite)
	csv := c.get(t, "/console/consent-banner/receipts.csv").want(t, 200)
	if strings.Count(string(csv.body), "\n") != 3 {
		t.Errorf("console CSV: %s", csv.body)
	}
	bad := c.post(t, "/console/consent-banner/settings", url.Values{"origins": {"https://ok.example\nnot an origin"},
		"purposes": {"analytics"}, "retention_days": {"30"}}).want(t, 400)
	wantText(t, bad, "a scheme and host, with no path")
	c.post(t, "/console/consent-banner/settings", url.Values{"origins": {"https://shop.tenant-a.example"},
		"purposes": {"analytics"}, "retention_days": {"60"}}).want(t, 200, 303)
	var got skjold.BannerSettings
	json.Unmarshal(e.do(t, e.a.token, "GET", "/api/v1/settings/banner", nil).want(t, 200).body, &got)
	if len(got.Origins) != 1 || got.Origins[0] != "https://shop.tenant-a.example" || got.RetentionDays != 60 {
		t.Errorf("settings after the form: %+v", got)
	}
}

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		return map[string]consoleBuild{
			"GET /console/consent-banner": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/consent-banner"}
			},
			"POST /console/consent-banner/settings": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/consent-banner/settings", form: url.Values{"origins": {"https://matrix.example"}}}
			},
			"GET /console/consent-banner/receipts.csv": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/consent-banner/receipts.csv"}
			},
			"GET /console/consent-banner/receipts.json": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/consent-banner/receipts.json"}
			},
		}
	})
}
