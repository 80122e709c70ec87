package http

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

// The API of the sub-processor register [G2], the data processing agreements [G1] and the
// registers of copies and destroyed media [D3, D4]. Signed scans and certificates travel as
// base64 in JSON, so through the API they are bounded by MaxBodySize; the console takes
// them as files of up to skjold.MaxDPAScan.

func (s *Server) dpa() (skjold.DPAService, error) {
	if s.svc.DPA == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "data processing agreements are not configured on this server")
	}
	return s.svc.DPA, nil
}

func (s *Server) registers() (skjold.CopyRegisterService, error) {
	if s.svc.Registers == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "the registers of copies and media are not configured on this server")
	}
	return s.svc.Registers, nil
}

// handleSubprocessors answers GET /api/v1/subprocessors.
func (s *Server) handleSubprocessors() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Subprocessor], error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		list, err := svc.Subprocessors(r.Context())
		return &listBody[*skjold.Subprocessor]{Items: list}, err
	})
}

type subprocessorRequest struct {
	Name      string   `json:"name"`
	Service   string   `json:"service"`
	Purpose   string   `json:"purpose"`
	Location  string   `json:"location"`
	Hosts     []string `json:"hosts"`
	Contract  string   `json:"contract_date"`
	Effective string   `json:"effective_date"`
}

// handleSubprocessorAdd answers POST /api/v1/subprocessors.
func (s *Server) handleSubprocessorAdd() http.Handler {
	return handle(s, http.StatusCreated, func(r *http.Request, req *subprocessorRequest) (*skjold.Subprocessor, error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		p := &skjold.Subprocessor{Name: req.Name, Service: req.Service, Purpose: req.Purpose, Location: req.Location,
			Hosts: req.Hosts, Contract: req.Contract, Effective: req.Effective}
		return p, svc.AddSubprocessor(r.Context(), p)
	})
}

// handleSubprocessorRemove answers DELETE /api/v1/subprocessors/{id}.
func (s *Server) handleSubprocessorRemove() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		return nil, svc.RemoveSubprocessor(r.Context(), r.PathValue("id"))
	})
}

// handleSubprocessorObject answers POST /api/v1/subprocessors/{id}/objection.
func (s *Server) handleSubprocessorObject() http.Handler {
	type request struct {
		Reason string `json:"reason"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		return nil, svc.ObjectToSubprocessor(r.Context(), r.PathValue("id"), req.Reason)
	})
}

// dpaBody is the answer of GET /api/v1/dpa: the agreement's state and the document itself.
type dpaBody struct {
	*skjold.DPAStatus
	Document document.Document `json:"document"`
}

// handleDPA answers GET /api/v1/dpa?lang=en|nb|pl.
func (s *Server) handleDPA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.answerDocument(w, r, func() (any, *document.Document, error) {
			svc, err := s.dpa()
			if err != nil {
				return nil, nil, err
			}
			lang := r.URL.Query().Get("lang")
			if lang == "" {
				lang = i18n.Default
			}
			if !i18n.Supported(lang) {
				return nil, nil, skjold.FieldError("lang", "enum", "lang must be one of %s", strings.Join(i18n.Languages, ", "))
			}
			st, err := svc.DPA(r.Context())
			if err != nil {
				return nil, nil, err
			}
			d := dpaDocument(st, i18n.Mail(lang), time.Now())
			return &dpaBody{DPAStatus: st, Document: d}, &d, nil
		})
	})
}

// handleDPAAccept answers POST /api/v1/dpa/accept.
func (s *Server) handleDPAAccept() http.Handler {
	type request struct {
		Version string `json:"version"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.DPAAcceptance, error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		return svc.AcceptDPA(r.Context(), req.Version)
	})
}

// decodePDF decodes a base64 PDF from a JSON field.
func decodePDF(field, b64 string) ([]byte, error) {
	pdf, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, skjold.FieldError(field, "base64", "%s must be the PDF in base64", field)
	}
	return pdf, nil
}

// handleDPAScan answers POST /api/v1/dpa/scan.
func (s *Server) handleDPAScan() http.Handler {
	type request struct {
		Version string `json:"version"`
		Scan    string `json:"scan"` // base64
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.DPAAcceptance, error) {
		svc, err := s.dpa()
		if err != nil {
			return nil, err
		}
		pdf, err := decodePDF("scan", req.Scan)
		if err != nil {
			return nil, err
		}
		return svc.UploadDPAScan(r.Context(), req.Version, pdf)
	})
}

// servePDF answers a stored PDF as a download.
func (s *Server) servePDF(w http.ResponseWriter, r *http.Request, name string, pdf []byte, err error) {
	if err != nil {
		fail(w, r, s.log, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(len(pdf)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pdf)
}

// handleDPAScanGet answers GET /api/v1/dpa/scan/{id}.
func (s *Server) handleDPAScanGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.dpa()
		var pdf []byte
		if err == nil {
			pdf, err = svc.DPAScan(r.Context(), r.PathValue("id"))
		}
		s.servePDF(w, r, "dpa-signed", pdf, err)
	})
}

// handleCopies answers GET /api/v1/copies.
func (s *Server) handleCopies() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.DataCopy], error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		list, err := svc.Copies(r.Context())
		return &listBody[*skjold.DataCopy]{Items: list}, err
	})
}

// handleCopyRecord answers POST /api/v1/copies.
func (s *Server) handleCopyRecord() http.Handler {
	type request struct {
		What       string `json:"what"`
		Recipient  string `json:"recipient"`
		HandedOver string `json:"handed_over"`
		DeleteBy   string `json:"delete_by"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.DataCopy, error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		c := &skjold.DataCopy{What: req.What, Recipient: req.Recipient, HandedOver: req.HandedOver, DeleteBy: req.DeleteBy}
		return c, svc.RecordCopy(r.Context(), c)
	})
}

// handleCopyDeleted answers POST /api/v1/copies/{id}/deleted.
func (s *Server) handleCopyDeleted() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.DataCopy, error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		return svc.ConfirmCopyDeleted(r.Context(), r.PathValue("id"))
	})
}

// handleMedia answers GET /api/v1/media.
func (s *Server) handleMedia() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.DestroyedMedium], error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		list, err := svc.Media(r.Context())
		return &listBody[*skjold.DestroyedMedium]{Items: list}, err
	})
}

// handleMediumRecord answers POST /api/v1/media.
func (s *Server) handleMediumRecord() http.Handler {
	type request struct {
		What        string `json:"what"`
		Method      string `json:"method"`
		DestroyedBy string `json:"destroyed_by"`
		Witness     string `json:"witness"`
		DestroyedOn string `json:"destroyed_on"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.DestroyedMedium, error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		m := &skjold.DestroyedMedium{What: req.What, Method: req.Method, DestroyedBy: req.DestroyedBy, Witness: req.Witness,
			DestroyedOn: req.DestroyedOn}
		return m, svc.RecordMedium(r.Context(), m)
	})
}

// handleCertificatePut answers PUT /api/v1/media/{id}/certificate.
func (s *Server) handleCertificatePut() http.Handler {
	type request struct {
		Certificate string `json:"certificate"` // base64
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.DestroyedMedium, error) {
		svc, err := s.registers()
		if err != nil {
			return nil, err
		}
		pdf, err := decodePDF("certificate", req.Certificate)
		if err != nil {
			return nil, err
		}
		return svc.AttachCertificate(r.Context(), r.PathValue("id"), pdf)
	})
}

// handleCertificateGet answers GET /api/v1/media/{id}/certificate.
func (s *Server) handleCertificateGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.registers()
		var pdf []byte
		if err == nil {
			pdf, err = svc.Certificate(r.Context(), r.PathValue("id"))
		}
		s.servePDF(w, r, "destruction-certificate", pdf, err)
	})
}

// dpaDocument writes a tenant's agreement as a document in cat's language.
func dpaDocument(st *skjold.DPAStatus, cat *i18n.Catalogue, now time.Time) document.Document {
	f := st.Facts
	args := []any{"controller", f.Controller, "processor", f.Processor, "days", f.NoticeDays}
	d := document.Document{Kind: "dpa", Title: cat.T("dpa.doc.title"), Subtitle: cat.T("dpa.doc.subtitle", args...),
		Language: cat.Lang(), GeneratedAt: now.UTC(), Version: st.Version,
		Footer: cat.T("dpa.doc.footer", "time", now.UTC().Format("2006-01-02 15:04 UTC"), "version", st.Version)}
	for _, c := range []string{"parties", "nature", "types", "instructions", "confidentiality", "security", "subprocessors",
		"assistance", "deletion", "audits"} {
		d.Sections = append(d.Sections, document.Section{Heading: cat.T("dpa.doc." + c),
			Paragraphs: []string{cat.T("dpa.doc."+c+"_text", args...)}})
	}

	subs := document.Section{Heading: cat.T("dpa.doc.annex_subprocessors")}
	if len(f.Subprocessors) == 0 {
		subs.Paragraphs = []string{cat.T("dpa.doc.no_subprocessors")}
	} else {
		t := &document.Table{Columns: []string{cat.T("dpa.doc.col_name"), cat.T("dpa.doc.col_service"), cat.T("dpa.doc.col_purpose"),
			cat.T("dpa.doc.col_location"), cat.T("dpa.doc.col_effective")}}
		for _, p := range f.Subprocessors {
			t.Rows = append(t.Rows, []string{p.Name, p.Service, p.Purpose, p.Location, p.Effective})
		}
		subs.Table = t
	}

	cats := document.Section{Heading: cat.T("dpa.doc.annex_categories")}
	if len(f.Purposes) == 0 {
		cats.Paragraphs = []string{cat.T("dpa.doc.no_purposes")}
	} else {
		cats.Paragraphs = []string{cat.T("dpa.doc.purposes", "list", strings.Join(f.Purposes, ", "))}
	}
	if len(f.Categories) == 0 {
		cats.Paragraphs = append(cats.Paragraphs, cat.T("dpa.doc.no_categories"))
	} else {
		t := &document.Table{Columns: []string{cat.T("dpa.doc.col_category"), cat.T("dpa.doc.col_fields"),
			cat.T("dpa.doc.col_purposes"), cat.T("dpa.doc.col_basis")}}
		for _, c := range f.Categories {
			t.Rows = append(t.Rows, []string{c.Name, strconv.Itoa(c.Fields), strings.Join(c.Purposes, ", "), c.LegalBasis})
		}
		cats.Table = t
	}

	p := f.Profile
	yes := func(b bool) string {
		if b {
			return cat.T("dpa.doc.m_yes")
		}
		return cat.T("dpa.doc.m_no")
	}
	orNone := func(n int, key string) string {
		if n == 0 {
			return cat.T("dpa.doc.m_none")
		}
		return cat.T(key, "count", n)
	}
	times := cat.T("dpa.doc.m_none")
	if len(p.BackupTimes) > 0 {
		times = strings.Join(p.BackupTimes, ", ") + " (" + p.BackupZone + ")"
	}
	measures := document.Section{Heading: cat.T("dpa.doc.annex_measures"), Table: &document.Table{
		Columns: []string{cat.T("dpa.doc.col_measure"), cat.T("dpa.doc.col_value")},
		Rows: [][]string{
			{cat.T("dpa.doc.m_password"), orNone(p.MinPasswordLength, "dpa.doc.m_password_value")},
			{cat.T("dpa.doc.m_idle"), orNone(p.MaxIdleMinutes, "dpa.doc.m_idle_value")},
			{cat.T("dpa.doc.m_two_factor"), yes(p.AdminTwoFactor)},
			{cat.T("dpa.doc.m_encryption"), cat.T("dpa.doc.m_encryption_value")},
			{cat.T("dpa.doc.m_audit"), cat.T("dpa.doc.m_audit_value")},
			{cat.T("dpa.doc.m_backups"), cat.T("dpa.doc.m_backups_value", "times", times, "offsite", yes(p.Offsite),
				"copies", p.DailyCopies)},
		}}}
	engine := "SQLite"
	if f.Storage == "postgres" {
		engine = "PostgreSQL"
	}
	storage := document.Section{Heading: cat.T("dpa.doc.annex_storage"), Paragraphs: []string{cat.T("dpa.doc.storage_text", "engine", engine)}}
	d.Sections = append(d.Sections, subs, cats, measures, storage)
	return d
}
