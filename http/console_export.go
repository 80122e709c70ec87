package http

import (
	"net/http"
	"slices"
	"time"

	"github.com/skjold-project/skjold"
)

// The console's export section [D6]: a tenant's whole data as XLSX, a ZIP of CSV files or
// JSON. Where the tenant puts bulk_export under four eyes, the reader asks for the export,
// a second person approves it on the approvals page, and the reader downloads it once; the
// download streams from the ExportService exactly as the API's export does.

func init() {
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/export", tenant(skjold.ScopeExport), s.handleConsoleExport()},
			// Filing the approval needs what the API's approval route needs.
			{"POST /console/export/ask", tenant(skjold.ScopeAdmin), s.handleConsoleExportAsk()},
			{"POST /console/export/download", tenant(skjold.ScopeExport), s.handleConsoleExportDownload()},
		}
	}, navItem{50, "/console/export", "nav.export", tenant(skjold.ScopeExport)})
}

// exportShown is how many of the reader's own export approvals the page lists.
const exportShown = 10

// exportData is what the export page shows.
type exportData struct {
	FourEyes bool
	Formats  []string
	Mine     []*skjold.Approval // the reader's bulk_export approvals, newest first
	CanAsk   bool
}

func (s *Server) exportData(r *http.Request) (*exportData, error) {
	d := &exportData{FourEyes: true, Formats: []string{skjold.FormatXLSX, skjold.FormatCSV, skjold.FormatJSON},
		CanAsk: skjold.CallerFromContext(r.Context()).Can(skjold.ScopeAdmin)}
	if set, err := s.svc.Auth.SessionSettings(r.Context()); err == nil {
		d.FourEyes = slices.Contains(set.FourEyes, skjold.ActionBulkExport)
	}
	all, err := s.findApprovals(r)
	if err != nil {
		return nil, err
	}
	me := consoleOf(r).id.User.ID
	for _, a := range slices.Backward(all) {
		if a.Action == skjold.ActionBulkExport && a.RequestedBy == me && len(d.Mine) < exportShown {
			d.Mine = append(d.Mine, a)
		}
	}
	return d, nil
}

// exportPage renders the export page with status and a refusal, if any.
func (s *Server) exportPage(w http.ResponseWriter, r *http.Request, status int, refused error) {
	cr := consoleOf(r)
	d, err := s.exportData(r)
	if err != nil {
		s.consoleFail(w, r, cr.id, err)
		return
	}
	v := cr.newView("export.title")
	v.Data = d
	switch skjold.ErrorCode(refused) {
	case "":
	case skjold.ECONFLICT:
		v.FormError = v.T("export.err.used")
	case skjold.EFORBIDDEN:
		v.FormError = v.T("export.err.forbidden")
	case skjold.ENOTFOUND:
		v.FormError = v.T("export.err.no_approval")
	default:
		if field, _ := fieldOf(refused); field == "format" && !d.FourEyes {
			v.Errors["format"] = v.T("export.err.format")
		} else if field == "format" {
			v.FormError = v.T("export.err.format") // one format list per approval: said above them
		} else {
			v.FormError = message(v.Cat, refused)
		}
	}
	s.render(w, r, status, "export", v)
}

func (s *Server) handleConsoleExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.exportPage(w, r, http.StatusOK, nil)
	})
}

// handleConsoleExportAsk files a bulk_export approval for a second person to decide.
func (s *Server) handleConsoleExportAsk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &skjold.Approval{Action: skjold.ActionBulkExport, Target: consoleOf(r).id.User.TenantID}
		if err := s.svc.Approvals.RequestApproval(r.Context(), a); err != nil {
			if skjold.ErrorCode(err) == skjold.EINTERNAL {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			s.exportPage(w, r, statusOf(err), err)
			return
		}
		http.Redirect(w, r, "/console/export?m=export_asked", http.StatusSeeOther)
	})
}

// handleConsoleExportDownload streams the export in the chosen format, with the approval
// named in the form where four eyes need one. A refusal before the first byte shows the
// export page with the reason; one after it cuts the connection, as the API's export does,
// so that a cut-off file is never taken for a whole one.
func (s *Server) handleConsoleExportDownload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.PostForm.Get("format")
		f, ok := exportFormats[format]
		if !ok {
			s.exportPage(w, r, http.StatusBadRequest, skjold.FieldError("format", "format", "unknown format"))
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		name := "skjold-export-" + time.Now().UTC().Format("20060102-150405") + f.suffix
		lw := &lazyWriter{w: w, header: func(h http.Header) {
			h.Set("Content-Type", f.contentType)
			h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		}}
		sink := f.sink(lw)
		err := s.svc.Export.ExportTenant(r.Context(), r.PostForm.Get("approval"), sink)
		if err == nil {
			err = sink.Close()
		} else if aerr := sink.Abort(); aerr != nil {
			s.log.Error("tenant export left temporary files", "err", aerr)
		}
		switch {
		case err != nil && !lw.started && skjold.ErrorCode(err) == skjold.EINTERNAL:
			s.consoleFail(w, r, consoleOf(r).id, err)
		case err != nil && !lw.started:
			s.exportPage(w, r, statusOf(err), err)
		case err != nil:
			s.log.Warn("tenant export cut off", "err", err)
			panic(http.ErrAbortHandler)
		}
	})
}
