package http

import (
	"net/url"
	"strings"
	"testing"
)

// pcCookie returns the value of a cookie the client sends to the tenant's privacy center.
func (c *consoleClient) pcCookie(slug, name string) string {
	u, _ := url.Parse(c.e.srv.URL + "/p/" + slug + "/")
	for _, ck := range c.client.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// pcPost sends a privacy-center form with the browser's CSRF token.
func (c *consoleClient) pcPost(t *testing.T, slug, path string, form url.Values) *reply {
	t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", c.pcCookie(slug, pcCSRFCookie))
	}
	return c.send(t, "POST", "/p/"+slug+"/"+path, form)
}

// TestPrivacyNoticePage checks that the notice is built from the live settings: a changed
// purpose and privacy facts show at once, in each language, behind the console's headers.
func TestPrivacyNoticePage(t *testing.T) {
	e := newEnv(t)
	c := e.consoleClient(t)
	e.do(t, e.a.token, "PUT", "/api/v1/settings/privacy", map[string]any{"controller": "Tenant A AS",
		"contact": "privacy@tenant-a.example", "supervisory_authority": "Datatilsynet", "recipients": []string{"Mailer Ltd"},
		"storage_location": "Norway"}).want(t, 200)
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent",
		"notice": "We send you our letter once a month."}).want(t, 200)
	r := c.get(t, "/p/tenant-a/").want(t, 200)
	pcCheckPage(t, r)
	wantText(t, r, "Tenant A AS", "privacy@tenant-a.example", "Datatilsynet", "Mailer Ltd", "Norway",
		"We send you our letter once a month.", "Version 2", "Consent", "Access", "Withdrawing consent")
	if !strings.Contains(string(r.body), `href="/p/tenant-a/request?type=erasure"`) {
		t.Error("the rights do not link to the request form")
	}
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/newsletter", map[string]any{"legal_basis": "consent",
		"notice": "Now twice a month."}).want(t, 200)
	wantText(t, c.get(t, "/p/tenant-a/").want(t, 200), "Now twice a month.", "Version 3")
	for lang, word := range map[string]string{"nb": "Personvernerklæring", "pl": "Informacja o prywatności"} {
		r := c.get(t, "/p/tenant-a/?lang="+lang).want(t, 200)
		pcCheckPage(t, r)
		wantText(t, r, word)
		if !strings.Contains(string(r.body), `<html lang="`+lang+`">`) {
			t.Errorf("%s: page not in its language", lang)
		}
	}
	for _, p := range []string{"/p/tenant-a/request", "/p/tenant-a/status"} {
		pcCheckPage(t, c.get(t, p).want(t, 200))
	}
	c.get(t, "/p/no-such-tenant/").want(t, 404)
	c.get(t, "/p/Bad_Slug/").want(t, 404)
}

// pcCheckPage checks a privacy-center page as checkPage does a console page, allowing pages
// without forms.
func pcCheckPage(t *testing.T, r *reply) {
	t.Helper()
	if strings.Count(string(r.body), "<form ") > 0 {
		checkPage(t, r)
		return
	}
	if got := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, consoleCSP) || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: headers %v", r.path, r.header)
	}
	body := string(r.body)
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "[[") {
		t.Errorf("%s: inline script or style, or a missing message: %s", r.path, body)
	}
}
