package http

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/skjold-project/skjold/netguard"
)

func TestParseHop(t *testing.T) {
	tests := []struct {
		hop  string
		want string // "" for refused
	}{
		{"203.0.113.8", "203.0.113.8"},
		{" 203.0.113.8 ", "203.0.113.8"},
		{"203.0.113.8:51234", "203.0.113.8"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"::ffff:203.0.113.8", "203.0.113.8"},
		{"[::ffff:203.0.113.8]:80", "203.0.113.8"},
		{"", ""},
		{"garbage", ""},
		{"unknown", ""},
		{"203.0.113.8:", ""},
		{"203.0.113.8:99999", ""},
		{"2001:db8::1]:443", ""},
		{"[2001:db8::1", ""},
		{"[203.0.113.8]", "203.0.113.8"}, // odd, but only an address
		{"2001:db8::1%eth0", ""},
		{"[fe80::1%eth0]:443", ""},
		{"203.0.113.8/32", ""},
		{"_gazonk", ""},
	}
	for _, tt := range tests {
		a, ok := parseHop(tt.hop)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("parseHop(%q) = %q, %v; want %q", tt.hop, got, ok, tt.want)
		}
	}
}

// TestClientAddr: behind a trusted proxy, the nearest untrusted hop is the client; a hop that
// does not parse leaves the client unknown, never the proxy.
func TestClientAddr(t *testing.T) {
	sh := &Shield{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		remote    string
		forwarded []string
		want      string // "" for refused
	}{
		{"198.51.100.1:4000", []string{"garbage"}, "198.51.100.1"}, // an untrusted peer's header is ignored
		{"10.0.0.2:4000", nil, "10.0.0.2"},                         // the proxy's own request
		{"10.0.0.2:4000", []string{"203.0.113.8"}, "203.0.113.8"},
		{"10.0.0.2:4000", []string{"203.0.113.8, 10.0.0.3"}, "203.0.113.8"},
		{"10.0.0.2:4000", []string{"203.0.113.8", "10.0.0.3"}, "203.0.113.8"},
		{"10.0.0.2:4000", []string{"garbage, 203.0.113.8"}, "203.0.113.8"}, // beyond the client: not read
		{"10.0.0.2:4000", []string{"10.0.0.4, 10.0.0.3"}, "10.0.0.4"},
		{"10.0.0.2:4000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"10.0.0.2:4000", []string{"203.0.113.8,garbage"}, ""},
		{"10.0.0.2:4000", []string{"203.0.113.8, 10.0.0.3, garbage"}, ""},
		{"10.0.0.2:4000", []string{"203.0.113.8,"}, ""},
		{"10.0.0.2:4000", []string{""}, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.forwarded {
			r.Header.Add("X-Forwarded-For", v)
		}
		a, ok := sh.clientAddr(r)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("%s with %q: client %q, %v; want %q", tt.remote, tt.forwarded, got, ok, tt.want)
		}
	}
}

func TestThreatKindOverload(t *testing.T) {
	for pattern, want := range map[string]string{
		"POST /api/v1/auth/login":  netguard.KindOverload,
		"POST /api/v1/auth/unlock": netguard.KindOverload,
		"GET /api/v1/subjects":     "",
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Pattern = pattern
		if got := threatKind(r, 503); got != want {
			t.Errorf("503 on %s: kind %q, want %q", pattern, got, want)
		}
	}
}

func FuzzParseHop(f *testing.F) {
	for _, s := range []string{"203.0.113.8", "[2001:db8::1]:443", "203.0.113.8,garbage", "::ffff:1.2.3.4", "[fe80::1%eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseHop(s)
		if ok && (!a.IsValid() || a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("parseHop(%q) = %v: want a plain address", s, a)
		}
		if !ok && a.IsValid() {
			t.Fatalf("parseHop(%q) refused but returned %v", s, a)
		}
	})
}
