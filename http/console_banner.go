package http

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's consent-banner page: the snippet to embed, the last 30 days' statistics per
// purpose, the receipts' export as proof, and for the tenant's admin the banner's settings
// (website origins, purposes, how long receipts are kept).

func init() {
	read, admin := tenant(skjold.ScopeRead), tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/consent-banner", read, s.handleConsoleBanner()},
			{"POST /console/consent-banner/settings", admin, s.handleConsoleBannerSettings()},
			{"GET /console/consent-banner/receipts.csv", read, s.handleConsoleBannerExport("csv")},
			{"GET /console/consent-banner/receipts.json", read, s.handleConsoleBannerExport("json")},
		}
	}, navItem{83, "/console/consent-banner", "nav.consent_banner", read})
}

// bannerStatsDays is the period the page's statistics cover.
const bannerStatsDays = 30

// consoleBannerData is what the consent-banner page shows.
type consoleBannerData struct {
	Snippet  string
	Settings *skjold.BannerSettings
	Stats    *skjold.ConsentStats
	// Purposes are the tenant's consent purposes, the ones the banner may ask for.
	Purposes []*skjold.Purpose
	CanAdmin bool
}

// bannerStatRow is one purpose's line of the statistics.
type bannerStatRow struct {
	Purpose                  string
	Accepted, Rejected, Rate int // Rate: accepted per hundred choices
}

// Rows are the statistics per purpose, with the share accepted.
func (d *consoleBannerData) Rows() []bannerStatRow {
	var out []bannerStatRow
	for _, st := range d.Stats.Purposes {
		row := bannerStatRow{Purpose: st.Purpose, Accepted: st.Accepted, Rejected: st.Rejected}
		if n := st.Accepted + st.Rejected; n > 0 {
			row.Rate = (st.Accepted*100 + n/2) / n
		}
		out = append(out, row)
	}
	return out
}

// Asks reports whether the banner asks for the purpose.
func (d *consoleBannerData) Asks(name string) bool { return slices.Contains(d.Settings.Purposes, name) }

func (s *Server) loadConsoleBanner(r *http.Request, v *web.View) error {
	b, err := s.banner()
	if err != nil {
		return err
	}
	ctx := r.Context()
	d := &consoleBannerData{CanAdmin: skjold.CallerFromContext(ctx).Can(skjold.ScopeAdmin)}
	if d.Settings, err = b.BannerSettings(ctx); err != nil {
		return err
	}
	if d.Stats, err = b.ConsentStats(ctx, time.Now().AddDate(0, 0, -bannerStatsDays)); err != nil {
		return err
	}
	all, err := s.svc.Purposes.FindPurposes(ctx)
	if err != nil {
		return err
	}
	for _, p := range all {
		if p.LegalBasis == skjold.BasisConsent {
			d.Purposes = append(d.Purposes, p)
		}
	}
	slug, err := s.svc.PrivacyCenter.PublicSlug(ctx)
	if err != nil {
		return err
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	d.Snippet = `<script src="` + scheme + "://" + r.Host + "/p/" + slug + `/banner.js" defer></script>`
	if _, set := v.Form["origins"]; !set {
		v.Form["origins"] = strings.Join(d.Settings.Origins, "\n")
		v.Form["retention_days"] = strconv.Itoa(d.Settings.RetentionDays)
	}
	v.Data = d
	return nil
}

func (s *Server) handleConsoleBanner() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("privacy_banner.console.title")
		s.cfgPage(w, r, http.StatusOK, "privacy_banner.console", v, func(v *web.View) error { return s.loadConsoleBanner(r, v) })
	})
}

func (s *Server) handleConsoleBannerSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.banner()
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		set := &skjold.BannerSettings{Origins: []string{}, Purposes: r.PostForm["purposes"]}
		for _, line := range strings.Split(r.PostForm.Get("origins"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				set.Origins = append(set.Origins, line)
			}
		}
		days := strings.TrimSpace(r.PostForm.Get("retention_days"))
		if set.RetentionDays, err = strconv.Atoi(days); err != nil && days != "" {
			err = skjold.FieldError("retention_days", "range", "retention_days must be a number of days")
		} else {
			err = b.PutBannerSettings(r.Context(), set)
		}
		if err != nil {
			s.cfgRefused(w, r, "privacy_banner.console", "privacy_banner.console.title", err, []string{"origins", "retention_days"},
				func(v *web.View) error { return s.loadConsoleBanner(r, v) })
			return
		}
		http.Redirect(w, r, "/console/consent-banner?m=banner_saved", http.StatusSeeOther)
	})
}

// handleConsoleBannerExport downloads every receipt kept, as the API's export does.
func (s *Server) handleConsoleBannerExport(format string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.banner()
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		now := time.Now().UTC()
		rs, err := b.FindConsentReceipts(r.Context(), now.AddDate(0, 0, -skjold.MaxReceiptDays), now.Add(time.Second))
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="consent-receipts.csv"`)
			writeReceiptsCSV(w, rs)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="consent-receipts.json"`)
		respond(w, http.StatusOK, listBody[*skjold.ConsentReceipt]{Items: rs})
	})
}
