package http

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/web"
)

// The console's pages for the data processing agreement [G1] (/console/dpa), the
// sub-processor register [G2] (/console/subprocessors) and the registers of copies and
// destroyed media [D3, D4] (/console/registers). They call the same services as the API.

func init() {
	admin := tenant(skjold.ScopeAdmin)
	seeSubs := either(skjold.ScopeRead, skjold.ScopeOperatorRead)
	seeRegs := either(skjold.ScopeAdmin, skjold.ScopeOperatorRead)
	keepRegs := either(skjold.ScopeAdmin, skjold.ScopeOperatorManage)
	opManage := operator(skjold.ScopeOperatorManage)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/dpa", admin, s.handleConsoleDPA()},
			{"POST /console/dpa/accept", admin, s.handleConsoleDPAAccept()},
			{"POST /console/dpa/scan", admin, s.handleConsoleDPAScan()},
			{"GET /console/dpa/scan/{id}", admin, s.handleConsoleDPAScanGet()},
			{"GET /console/subprocessors", seeSubs, s.handleConsoleSubprocessors()},
			{"POST /console/subprocessors", opManage, s.handleConsoleSubprocessorAdd()},
			{"POST /console/subprocessors/{id}/remove", opManage, s.handleConsoleSubprocessorRemove()},
			{"POST /console/subprocessors/{id}/objection", admin, s.handleConsoleSubprocessorObject()},
			{"GET /console/registers", seeRegs, s.handleConsoleRegisters()},
			{"POST /console/registers/copies", keepRegs, s.handleConsoleCopyRecord()},
			{"POST /console/registers/copies/{id}/deleted", keepRegs, s.handleConsoleCopyDeleted()},
			{"POST /console/registers/media", keepRegs, s.handleConsoleMediumRecord()},
			{"POST /console/registers/media/{id}/certificate", keepRegs, s.handleConsoleCertificate()},
			{"GET /console/registers/media/{id}/certificate", seeRegs, s.handleConsoleCertificateGet()},
		}
	}, navItem{76, "/console/dpa", "nav.dpa", admin}, navItem{77, "/console/subprocessors", "nav.subprocessors", seeSubs},
		navItem{78, "/console/registers", "nav.registers", seeRegs})
}

// showDPA asks a tenant's administrators on the dashboard and the compliance page to accept
// their agreement again when its version changed since the last acceptance (or was never
// accepted). A failure to read it is logged; the page works without the banner.
func (s *Server) showDPA(ctx context.Context, v *web.View, path string) {
	c := skjold.CallerFromContext(ctx)
	if s.svc.DPA == nil || v.Stage != "" || c == nil || c.Operator || !c.Can(skjold.ScopeAdmin) ||
		(path != "/console/" && path != "/console/compliance") {
		return
	}
	st, err := s.svc.DPA.DPA(ctx)
	if err != nil {
		s.log.Error("data processing agreement not read", "err", err)
		return
	}
	v.DPAPending = !st.Current
}

type dpaPageData struct {
	Status  *skjold.DPAStatus
	Doc     document.Document
	Owner   bool
	Methods map[string]string
}

func (s *Server) dpaLoad(r *http.Request) func(v *web.View) error {
	return func(v *web.View) error {
		svc, err := s.dpa()
		if err != nil {
			return err
		}
		st, err := svc.DPA(r.Context())
		if err != nil {
			return err
		}
		c := skjold.CallerFromContext(r.Context())
		v.Data = &dpaPageData{Status: st, Doc: dpaDocument(st, v.Cat, time.Now()), Owner: c.Role == skjold.RoleOwner && c.UserID != ""}
		return nil
	}
}

func (s *Server) handleConsoleDPA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "dpa", consoleOf(r).newView("dpa.title"), s.dpaLoad(r))
	})
}

func (s *Server) handleConsoleDPAAccept() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		if err == nil {
			_, err = svc.AcceptDPA(r.Context(), r.PostForm.Get("version"))
		}
		if err != nil {
			s.cfgRefused(w, r, "dpa", "dpa.title", err, nil, s.dpaLoad(r))
			return
		}
		http.Redirect(w, r, "/console/dpa?m=dpa_accepted", http.StatusSeeOther)
	})
}

// formPDF reads an uploaded PDF from a multipart form field.
func formPDF(r *http.Request, field string) ([]byte, error) {
	f, _, err := r.FormFile(field)
	if err != nil {
		return nil, skjold.FieldError(field, "required", "choose a PDF file to upload")
	}
	defer f.Close()
	pdf, err := io.ReadAll(io.LimitReader(f, skjold.MaxDPAScan+1))
	if err != nil {
		return nil, skjold.FieldError(field, "required", "the file could not be read")
	}
	if len(pdf) > skjold.MaxDPAScan {
		return nil, skjold.FieldError(field, "size", "%s must be at most 10 MB", field)
	}
	return pdf, nil
}

func (s *Server) handleConsoleDPAScan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		var pdf []byte
		if err == nil {
			pdf, err = formPDF(r, "scan")
		}
		if err == nil {
			_, err = svc.UploadDPAScan(r.Context(), r.PostForm.Get("version"), pdf)
		}
		if err != nil {
			s.cfgRefused(w, r, "dpa", "dpa.title", err, []string{"scan"}, s.dpaLoad(r))
			return
		}
		http.Redirect(w, r, "/console/dpa?m=dpa_scanned", http.StatusSeeOther)
	})
}

type subprocPageData struct {
	Items      []*skjold.Subprocessor
	Operator   bool
	Owner      bool
	Processor  string
	NoticeDays int
}

var subprocFields = []string{"name", "service", "purpose", "location", "hosts", "contract_date", "effective_date"}

func (s *Server) subprocLoad(r *http.Request) func(v *web.View) error {
	return func(v *web.View) error {
		svc, err := s.dpa()
		if err != nil {
			return err
		}
		list, err := svc.Subprocessors(r.Context())
		if err != nil {
			return err
		}
		c := skjold.CallerFromContext(r.Context())
		d := &subprocPageData{Items: list, Operator: c.Operator, Owner: !c.Operator && c.Role == skjold.RoleOwner && c.UserID != "",
			Processor: "Skjold", NoticeDays: skjold.DefaultSubprocessorNoticeDays}
		if !c.Operator && c.Can(skjold.ScopeAdmin) {
			if st, err := svc.DPA(r.Context()); err == nil {
				d.NoticeDays, d.Processor = st.Facts.NoticeDays, st.Facts.Processor
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleSubprocessors() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "subproc", consoleOf(r).newView("subproc.title"), s.subprocLoad(r))
	})
}

func (s *Server) handleConsoleSubprocessorAdd() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		p := &skjold.Subprocessor{Name: strings.TrimSpace(f.Get("name")), Service: strings.TrimSpace(f.Get("service")),
			Purpose: strings.TrimSpace(f.Get("purpose")), Location: strings.TrimSpace(f.Get("location")),
			Hosts: strings.Fields(f.Get("hosts")), Contract: strings.TrimSpace(f.Get("contract_date")),
			Effective: strings.TrimSpace(f.Get("effective_date"))}
		svc, err := s.dpa()
		if err == nil {
			err = svc.AddSubprocessor(r.Context(), p)
		}
		if err != nil {
			s.cfgRefused(w, r, "subproc", "subproc.title", err, subprocFields, s.subprocLoad(r))
			return
		}
		http.Redirect(w, r, "/console/subprocessors?m=subproc_added", http.StatusSeeOther)
	})
}

func (s *Server) handleConsoleSubprocessorRemove() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		if err == nil {
			err = svc.RemoveSubprocessor(r.Context(), r.PathValue("id"))
		}
		if err != nil {
			s.dpaRefused(w, r, "subproc", "subproc.title", err, nil, s.subprocLoad(r))
			return
		}
		http.Redirect(w, r, "/console/subprocessors?m=subproc_removed", http.StatusSeeOther)
	})
}

func (s *Server) handleConsoleSubprocessorObject() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		if err == nil {
			err = svc.ObjectToSubprocessor(r.Context(), r.PathValue("id"), r.PostForm.Get("reason"))
		}
		if err != nil {
			s.dpaRefused(w, r, "subproc", "subproc.title", err, nil, s.subprocLoad(r))
			return
		}
		http.Redirect(w, r, "/console/subprocessors?m=subproc_objected", http.StatusSeeOther)
	})
}

type registersPageData struct {
	Copies []*skjold.DataCopy
	Media  []*skjold.DestroyedMedium
	Manage bool
	Today  string
}

var registersFields = []string{"what", "recipient", "handed_over", "delete_by", "method", "destroyed_by", "witness",
	"destroyed_on", "certificate"}

func (s *Server) registersLoad(r *http.Request) func(v *web.View) error {
	return func(v *web.View) error {
		svc, err := s.registers()
		if err != nil {
			return err
		}
		d := &registersPageData{Today: time.Now().UTC().Format(time.DateOnly)}
		if d.Copies, err = svc.Copies(r.Context()); err != nil {
			return err
		}
		if d.Media, err = svc.Media(r.Context()); err != nil {
			return err
		}
		c := skjold.CallerFromContext(r.Context())
		d.Manage = c.Can(skjold.ScopeAdmin) || c.Can(skjold.ScopeOperatorManage)
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleRegisters() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "registers", consoleOf(r).newView("registers.title"), s.registersLoad(r))
	})
}

// registersDone answers a register form: back to the page, or the page again with the error.
func (s *Server) registersDone(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.dpaRefused(w, r, "registers", "registers.title", err, registersFields, s.registersLoad(r))
		return
	}
	http.Redirect(w, r, "/console/registers?m=registers_saved", http.StatusSeeOther)
}

func (s *Server) handleConsoleCopyRecord() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		c := &skjold.DataCopy{What: strings.TrimSpace(f.Get("what")), Recipient: strings.TrimSpace(f.Get("recipient")),
			HandedOver: strings.TrimSpace(f.Get("handed_over")), DeleteBy: strings.TrimSpace(f.Get("delete_by"))}
		svc, err := s.registers()
		if err == nil {
			err = svc.RecordCopy(r.Context(), c)
		}
		s.registersDone(w, r, err)
	})
}

func (s *Server) handleConsoleCopyDeleted() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.registers()
		if err == nil {
			_, err = svc.ConfirmCopyDeleted(r.Context(), r.PathValue("id"))
		}
		s.registersDone(w, r, err)
	})
}

func (s *Server) handleConsoleMediumRecord() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		m := &skjold.DestroyedMedium{What: strings.TrimSpace(f.Get("what")), Method: strings.TrimSpace(f.Get("method")),
			DestroyedBy: strings.TrimSpace(f.Get("destroyed_by")), Witness: strings.TrimSpace(f.Get("witness")),
			DestroyedOn: strings.TrimSpace(f.Get("destroyed_on"))}
		svc, err := s.registers()
		if err == nil {
			err = svc.RecordMedium(r.Context(), m)
		}
		s.registersDone(w, r, err)
	})
}

func (s *Server) handleConsoleCertificate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.registers()
		var pdf []byte
		if err == nil {
			// A missing file is the store's to refuse, after it has looked for the medium.
			if pdf, err = formPDF(r, "certificate"); err != nil && skjold.ErrorCode(err) == skjold.EINVALID {
				if _, rule := fieldOf(err); rule == "required" {
					err = nil
				}
			}
		}
		if err == nil {
			_, err = svc.AttachCertificate(r.Context(), r.PathValue("id"), pdf)
		}
		s.registersDone(w, r, err)
	})
}

// consolePDF answers a stored PDF as a download, or the console's error page.
func (s *Server) consolePDF(w http.ResponseWriter, r *http.Request, name string, pdf []byte, err error) {
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	s.servePDF(w, r, name, pdf, nil)
}

func (s *Server) handleConsoleDPAScanGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		var pdf []byte
		if err == nil {
			pdf, err = svc.DPAScan(r.Context(), r.PathValue("id"))
		}
		s.consolePDF(w, r, "dpa-signed", pdf, err)
	})
}

func (s *Server) handleConsoleCertificateGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.registers()
		var pdf []byte
		if err == nil {
			pdf, err = svc.Certificate(r.Context(), r.PathValue("id"))
		}
		s.consolePDF(w, r, "destruction-certificate", pdf, err)
	})
}

// dpaRefused shows the page again after a refused form, or the console's "not found" page
// when the form was about an entry that is not there (or is another tenant's).
func (s *Server) dpaRefused(w http.ResponseWriter, r *http.Request, page, title string, err error, fields []string,
	load func(v *web.View) error) {
	if skjold.ErrorCode(err) == skjold.ENOTFOUND {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	s.cfgRefused(w, r, page, title, err, fields, load)
}
