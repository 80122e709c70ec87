package http

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The website consent banner [H2, A2]: its script and stylesheet, its configuration and the
// receipts its visitors' browsers post, under the privacy center's /p/{slug}/. The script
// and stylesheet are for any page; the configuration and receipts answer only the origins
// the tenant configured (CORS), and every route is screened like the rest (bans, block
// list), limited per address and per tenant, and answers problems as JSON.

// Rate limits of the banner, per client address and per tenant, in the privacy center's
// window (10 minutes). The configuration is fetched on every page view of a tenant's site;
// a receipt only when a visitor chooses. Many visitors may share one address (an office's
// or a carrier's NAT), so the limits per address are generous. Tests lower them.
var (
	bannerPerAddr         = 1000
	bannerReceiptsPerAddr = 100
	bannerPerTenant       = 500_000
)

// maxReceiptBody bounds a receipt's body: twenty purposes fit many times over.
const maxReceiptBody = 16 << 10

type bannerKey struct{}

// bannerRequest is what the guard found: the tenant and its banner.
type bannerRequest struct {
	tenant *skjold.PublicTenant
	config *skjold.BannerConfig
}

func (s *Server) bannerRoutes() []route {
	return []route{
		{"GET /p/{slug}/banner.js", public, s.handleBannerAsset(web.BannerJS, "text/javascript; charset=utf-8")},
		{"GET /p/{slug}/banner.css", public, s.handleBannerAsset(web.BannerCSS, "text/css; charset=utf-8")},
		{"GET /p/{slug}/banner.json", public, s.handleBannerConfig()},
		{"OPTIONS /p/{slug}/consent-receipts", public, s.handleReceiptPreflight()},
		{"POST /p/{slug}/consent-receipts", public, s.handleReceiptPost()},
	}
}

// bannerGuard wraps a banner route: metrics and log line by pattern, the per-address limit
// before any work, the tenant by slug and its banner, then the per-tenant limit.
func (s *Server) bannerGuard(rt route) http.Handler {
	return s.observe(rt.pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now, l := time.Now(), s.pcLimiter()
		max := bannerPerAddr
		if r.Method == http.MethodPost {
			max = bannerReceiptsPerAddr
		}
		if !l.allow("banner:"+r.Method+":addr:"+clientAddr(r), max, now) {
			fail(w, r, s.log, skjold.Errorf(skjold.ETOOMANY, "too many requests: try again later"))
			return
		}
		ctx := skjold.NewContextWithCaller(r.Context(), &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)})
		t, err := s.svc.PrivacyCenter.PublicTenant(ctx, r.PathValue("slug"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		if !l.allow("banner:tenant:"+t.ID, bannerPerTenant, now) {
			fail(w, r, s.log, skjold.Errorf(skjold.ETOOMANY, "too many requests: try again later"))
			return
		}
		b, err := s.svc.Banner.BannerConfig(ctx, t.ID)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		ctx = context.WithValue(ctx, bannerKey{}, &bannerRequest{tenant: t, config: b})
		rt.handler.ServeHTTP(w, r.WithContext(ctx))
	}))
}

func bannerOf(r *http.Request) *bannerRequest { return r.Context().Value(bannerKey{}).(*bannerRequest) }

// allowOrigin sets the CORS headers when the request's Origin is one of the banner's, and
// reports whether it is. Another origin gets no CORS header at all.
func allowOrigin(w http.ResponseWriter, r *http.Request, b *skjold.BannerConfig) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	n, ok := skjold.NormalizeOrigin(origin)
	if !ok || !slices.Contains(b.Origins, n) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return true
}

func errOrigin() error {
	return skjold.Errorf(skjold.EFORBIDDEN, "this website is not one of the banner's origins: add it in the banner settings")
}

// gpcHeader reports whether the request carries Global Privacy Control.
func gpcHeader(r *http.Request) bool { return strings.TrimSpace(r.Header.Get("Sec-GPC")) == "1" }

// handleBannerAsset serves the script or stylesheet, cacheable for an hour and loadable
// from any site.
func (s *Server) handleBannerAsset(body []byte, ctype string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// bannerText are the banner's own words, by the key the script reads.
var bannerText = []string{"title", "intro", "more", "reject_all", "choose", "save", "accept_all", "settings"}

// handleBannerConfig answers the banner's purposes and words in the language asked
// (?lang=en|nb|pl, else English), and whether the request carried Sec-GPC.
func (s *Server) handleBannerConfig() http.Handler {
	type purpose struct {
		*skjold.BannerPurpose
		Label string `json:"label"`
	}
	type body struct {
		Lang        string            `json:"lang"`
		GPC         bool              `json:"gpc"`
		PrivacyPath string            `json:"privacy_path"`
		Text        map[string]string `json:"text"`
		Purposes    []purpose         `json:"purposes"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bannerOf(r)
		if !allowOrigin(w, r, br.config) {
			fail(w, r, s.log, errOrigin())
			return
		}
		lang := r.URL.Query().Get("lang")
		if !i18n.Supported(lang) {
			lang = i18n.Languages[0]
		}
		cat := s.pages.Bundle().Get(lang)
		out := body{Lang: lang, GPC: gpcHeader(r), PrivacyPath: "/p/" + br.tenant.Slug + "/?lang=" + lang,
			Text: map[string]string{}, Purposes: []purpose{}}
		for _, k := range bannerText {
			out.Text[k] = cat.T("privacy_banner.widget." + k)
		}
		for _, p := range br.config.Purposes {
			out.Purposes = append(out.Purposes, purpose{BannerPurpose: p, Label: purposeLabel(p.Name)})
		}
		respond(w, http.StatusOK, out)
	})
}

// purposeLabel turns a purpose name into a heading: "marketing_pixels" → "Marketing pixels".
func purposeLabel(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// handleReceiptPreflight answers the browser's CORS preflight of a receipt: the banner's
// origins may POST JSON; any other gets no CORS header and a refusal.
func (s *Server) handleReceiptPreflight() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowOrigin(w, r, bannerOf(r).config) || r.Header.Get("Access-Control-Request-Method") != http.MethodPost {
			w.Header().Del("Access-Control-Allow-Origin")
			fail(w, r, s.log, errOrigin())
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleReceiptPost stores a receipt from an allowed origin. Sec-GPC: 1 makes it an opt-out.
func (s *Server) handleReceiptPost() http.Handler {
	type request struct {
		ConsentID      string          `json:"consent_id"`
		Method         string          `json:"method"`
		Choices        map[string]bool `json:"choices"`
		NoticeVersions map[string]int  `json:"notice_versions"`
		GPC            bool            `json:"gpc"`
	}
	type answer struct {
		ID      string          `json:"id"`
		Choices map[string]bool `json:"choices"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bannerOf(r)
		if !allowOrigin(w, r, br.config) {
			fail(w, r, s.log, errOrigin())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxReceiptBody)
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		rc := &skjold.ConsentReceipt{ConsentID: req.ConsentID, Method: req.Method, Choices: req.Choices,
			NoticeVersions: req.NoticeVersions, GPC: req.GPC || gpcHeader(r)}
		ua := r.Header.Get("User-Agent")
		if len(ua) > 512 {
			ua = ua[:512]
		}
		if err := s.svc.Banner.StoreConsentReceipt(r.Context(), br.tenant.ID, rc, ua); err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusCreated, answer{ID: rc.ID, Choices: rc.Choices})
	})
}

// The staff's API: the banner's settings, and the receipts as proof.

func (s *Server) banner() (skjold.BannerService, error) {
	if s.svc.Banner == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "the consent banner is not available on this server")
	}
	return s.svc.Banner, nil
}

func (s *Server) handleBannerSettingsGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.BannerSettings, error) {
		b, err := s.banner()
		if err != nil {
			return nil, err
		}
		return b.BannerSettings(r.Context())
	})
}

func (s *Server) handleBannerSettingsPut() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, req *skjold.BannerSettings) (*skjold.BannerSettings, error) {
		b, err := s.banner()
		if err != nil {
			return nil, err
		}
		if err := b.PutBannerSettings(r.Context(), req); err != nil {
			return nil, err
		}
		return req, nil // as stored: Validate normalised it
	})
}

// receiptPeriod reads ?from= and ?to= (RFC 3339 or a date); by default the last 30 days.
func receiptPeriod(r *http.Request, now time.Time) (from, to time.Time, err error) {
	from, to = now.AddDate(0, 0, -30), now.Add(time.Second)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := r.URL.Query().Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				return from, to, skjold.FieldError(p.name, "time", "%s must be a date (2026-12-01) or an RFC 3339 time", p.name)
			}
		}
		*p.t = t
	}
	if !from.Before(to) {
		return from, to, skjold.FieldError("from", "range", "from must be before to")
	}
	return from, to, nil
}

// handleReceiptExport answers the receipts of a period as JSON, or as CSV with ?format=csv.
func (s *Server) handleReceiptExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" {
			fail(w, r, s.log, skjold.FieldError("format", "format", "format must be json or csv"))
			return
		}
		from, to, err := receiptPeriod(r, time.Now().UTC())
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		b, err := s.banner()
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		rs, err := b.FindConsentReceipts(r.Context(), from, to)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="consent-receipts.csv"`)
			writeReceiptsCSV(w, rs)
			return
		}
		respond(w, http.StatusOK, listBody[*skjold.ConsentReceipt]{Items: rs})
	})
}

// writeReceiptsCSV writes one line per receipt; choices and versions as JSON objects.
func writeReceiptsCSV(w http.ResponseWriter, rs []*skjold.ConsentReceipt) {
	c := csv.NewWriter(w)
	c.Write([]string{"id", "created_at", "expires_at", "consent_id", "method", "gpc", "choices", "notice_versions", "user_agent_hash"})
	for _, rc := range rs {
		choices, _ := json.Marshal(rc.Choices)
		versions, _ := json.Marshal(rc.NoticeVersions)
		c.Write([]string{rc.ID, rc.CreatedAt.Format(time.RFC3339), rc.ExpiresAt.Format(time.RFC3339), rc.ConsentID, rc.Method,
			strconv.FormatBool(rc.GPC), string(choices), string(versions), rc.UserAgentHash})
	}
	c.Flush()
}
