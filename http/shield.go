package http

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

// Shield screens requests before any other work [B11]: an address in the operator's block
// list or banned is refused with no database query and no password hashing. It feeds the
// threat detectors with each answer, and bans the addresses they name on every node (the ban
// is stored, then reloaded by the other nodes' guards). netguard holds in-memory data
// structures (on PostgreSQL the detectors' windows are kept in the database through
// netguard.SharedState), so the HTTP layer uses it directly.
type Shield struct {
	Guard    *netguard.Guard
	Detector *netguard.Detector
	// TrustedProxies are the direct peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Network        skjold.NetworkService // where bans are stored
	Now            func() time.Time
	// Load reads the block list and the bans in force from the database, with no caller.
	Load func(ctx context.Context) ([]netip.Prefix, map[netip.Prefix]time.Time, error)
}

// Sync replaces the guard's state with the database's: bans and block-list changes made by
// any node. The server calls it every few seconds and after each change made here.
func (sh *Shield) Sync(ctx context.Context) error {
	list, bans, err := sh.Load(ctx)
	if err != nil {
		return err
	}
	sh.Guard.Replace(list, bans)
	return nil
}

type clientKey struct{}

// seenCaller is where authorize leaves the tenant of the request's caller for screen, which
// runs outside it, to tell a probe of another tenant from a caller's own stale link.
type seenCaller struct {
	set      bool
	tenantID string
}

type seenKey struct{}

// noteCaller records the caller's tenant for the screen around the request, if any.
func noteCaller(r *http.Request, c *skjold.Caller) {
	noteRequestCaller(r, c)
	if seen, ok := r.Context().Value(seenKey{}).(*seenCaller); ok {
		seen.set, seen.tenantID = true, c.TenantID
	}
}

// screen resolves the client address, refuses blocked addresses, and after the answer
// reports it to the detectors.
func (s *Server) screen(next http.Handler) http.Handler {
	sh := s.svc.Shield
	if sh == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, ok := sh.clientAddr(r)
		if !ok {
			// Believing the proxy's own address instead would pin every client's failures,
			// and bans, on the proxy; the client's address is unknown, so the request is refused.
			s.metrics.threats.WithLabelValues("bad_forwarded_for").Inc()
			fail(w, r, s.log, skjold.Errorf(skjold.EINVALID, "X-Forwarded-For from a trusted proxy holds a value that is not an IP address"))
			return
		}
		if addr.IsValid() && sh.Guard.Blocked(addr, sh.Now()) {
			s.metrics.threats.WithLabelValues("blocked").Inc()
			fail(w, r, s.log, skjold.Errorf(skjold.EFORBIDDEN, "requests from your address are blocked"))
			return
		}
		seen := &seenCaller{}
		r = r.WithContext(context.WithValue(context.WithValue(r.Context(), clientKey{}, addr), seenKey{}, seen))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		kind := threatKind(r, sw.status)
		if kind == netguard.KindNotFound && seen.set && s.probed(r, seen.tenantID) {
			kind = netguard.KindTenantProbe
		}
		if kind != "" && addr.IsValid() {
			s.metrics.threats.WithLabelValues(kind).Inc()
			s.detect(sh, kind, addr)
		}
	})
}

// threatKind classifies an answer for the detectors; "" for an answer that is not one.
func threatKind(r *http.Request, status int) string {
	switch {
	case status == http.StatusUnauthorized && r.Pattern == "POST /api/v1/auth/login":
		return netguard.KindLoginFailed
	case (status == http.StatusUnauthorized || status == http.StatusTooManyRequests) &&
		strings.HasPrefix(r.Pattern, "POST /api/v1/auth/"):
		return netguard.KindLoginFailed // a wrong password, code or reset token, or one more try while locked out
	case (status == http.StatusUnauthorized || status == http.StatusTooManyRequests) &&
		strings.HasPrefix(r.Pattern, "POST /console/"):
		return netguard.KindLoginFailed // the console's forms for a password, code or reset code
	case status == http.StatusTooManyRequests && r.Pattern == "POST /p/{slug}/consent-receipts":
		// The website banner's limit: many visitors behind one address (an office, a
		// carrier's NAT) reach it without any hostility, and a ban would lock them all out.
		return ""
	case (status == http.StatusUnauthorized || status == http.StatusTooManyRequests) &&
		strings.HasPrefix(r.Pattern, "POST /p/"):
		return netguard.KindLoginFailed // the privacy center's code form, or its rate limits
	case status == http.StatusServiceUnavailable &&
		(strings.HasPrefix(r.Pattern, "POST /api/v1/auth/") || strings.HasPrefix(r.Pattern, "POST /console/")):
		return netguard.KindOverload // no free password check: a flood from this source, or one it joins
	case status == http.StatusUnauthorized && r.Header.Get("Authorization") != "":
		return netguard.KindTokenInvalid
	case status == http.StatusUnauthorized:
		return netguard.KindUnauthorized
	case status == http.StatusNotFound:
		return netguard.KindNotFound
	case status == http.StatusForbidden && strings.Contains(r.Pattern, "{"):
		return "" // a known caller without a permission: not hostile by itself
	}
	return ""
}

// probed reports whether a 404 answered a request, by a caller of tenantID, for a live
// object of another tenant: its id was not guessed (ids are random), so the caller is probing
// isolation.
func (s *Server) probed(r *http.Request, tenantID string) bool {
	id := r.PathValue("id")
	if !skjold.ValidID(id) || s.svc.Shield.Network == nil {
		return false
	}
	ok, err := s.svc.Shield.Network.OtherTenantsObject(r.Context(), id, tenantID)
	return err == nil && ok
}

// detect feeds one event to the detectors and bans the source prefixes of any rule that fires.
func (s *Server) detect(sh *Shield, kind string, addr netip.Addr) {
	now := sh.Now()
	for _, b := range sh.Detector.Observe(netguard.Event{Kind: kind, Addr: addr, Time: now}) {
		until := now.Add(b.For)
		sh.Guard.Ban(b.Prefix, until) // this node refuses at once
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := sh.Network.Ban(ctx, b.Prefix, until, b.Rule); err != nil {
			s.log.Error("ban not stored; it holds on this node only", "rule", b.Rule, "err", err)
		}
		cancel()
		s.log.Warn("address banned", "rule", b.Rule, "prefix_bits", b.Prefix.Bits(), "minutes", int(b.For/time.Minute))
	}
}

// clientAddr returns the client's address: the direct peer, or — when the peer is a trusted
// proxy — the nearest address in X-Forwarded-For that is not itself a trusted proxy. It
// reports false when a hop it must read is not an address: the client is then unknown, and
// falling back to the proxy would blame the proxy for every client behind it.
func (sh *Shield) clientAddr(r *http.Request) (netip.Addr, bool) {
	peer := peerAddr(r)
	if !sh.trusted(peer) {
		return peer, true
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		if peer = a; !sh.trusted(a) {
			break
		}
	}
	return peer, true // the first untrusted hop, else the farthest one, else the proxy itself
}

// parseHop parses one X-Forwarded-For element: an IPv4 or IPv6 address, optionally with a
// port ("203.0.113.8:1234", "[2001:db8::1]:443") or in brackets ("[2001:db8::1]"), as proxies
// write them. Zones, empty elements and anything else are refused.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			a, err = ap.Addr(), nil
		} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (sh *Shield) trusted(a netip.Addr) bool {
	for _, p := range sh.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// clientAddr is the client's address as the shield resolved it, or the direct peer.
func clientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientKey{}).(netip.Addr); ok && a.IsValid() {
		return a.String()
	}
	if a := peerAddr(r); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
