package http

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/compliancedoc"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

// The compliance documents [G3, G4]: the technical and organisational measures and the
// records of processing, written from live state in the caller's language of choice, as
// JSON (document.Document) or PDF; and the organisational measures they show.

// documents returns the document service, or EUNAVAILABLE when the server has none.
func (s *Server) documents() (skjold.ComplianceDocumentService, error) {
	if s.svc.Documents == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "compliance documents are not configured on this server")
	}
	return s.svc.Documents, nil
}

// complianceDocument generates the document of kind in lang for the caller's scope, or for
// tenantID when an operator names one.
func (s *Server) complianceDocument(ctx context.Context, kind, lang, tenantID string) (*document.Document, error) {
	if !slices.Contains(skjold.DocumentKinds, kind) {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "document not found")
	}
	if lang == "" {
		lang = i18n.Default
	}
	if !i18n.Supported(lang) {
		return nil, skjold.FieldError("lang", "enum", "lang must be one of %v", i18n.Languages)
	}
	svc, err := s.documents()
	if err != nil {
		return nil, err
	}
	pages, err := consolePages()
	if err != nil {
		return nil, err
	}
	f, err := svc.DocumentFacts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if s.svc.SubProcessors != nil {
		f.SubProcessors = s.svc.SubProcessors()
	}
	return compliancedoc.Generate(kind, pages.Bundle().Get(lang), f, f.CheckedAt)
}

// documentFormat reads ?format=: json (the default) or pdf.
func documentFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return "json", nil
	case "pdf":
		return f, nil
	}
	return "", skjold.FieldError("format", "enum", "format must be json or pdf")
}

// writeDocumentPDF answers with d as a PDF attachment named <kind>-<lang>.pdf.
func writeDocumentPDF(w http.ResponseWriter, d *document.Document) error {
	var buf bytes.Buffer
	if err := document.WritePDF(&buf, d); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pdf"`, d.Kind, d.Language))
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// answerDocument answers with the document produce writes: as JSON (v, which holds it) or, with
// ?format=pdf, as a PDF attachment of the same document. Every document route answers through
// it, so the HTML, JSON and PDF of a document never say different things.
func (s *Server) answerDocument(w http.ResponseWriter, r *http.Request, produce func() (any, *document.Document, error)) {
	format, err := documentFormat(r)
	if err != nil {
		fail(w, r, s.log, err)
		return
	}
	v, d, err := produce()
	if err != nil {
		fail(w, r, s.log, err)
		return
	}
	if format == "pdf" {
		if err := writeDocumentPDF(w, d); err != nil {
			s.log.Error("document pdf", "kind", d.Kind, "err", err)
		}
		return
	}
	respond(w, http.StatusOK, v)
}

// handleComplianceDocument answers GET /api/v1/compliance/documents/{kind}?lang=&format=&tenant=.
func (s *Server) handleComplianceDocument() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.answerDocument(w, r, func() (any, *document.Document, error) {
			q := r.URL.Query()
			d, err := s.complianceDocument(r.Context(), r.PathValue("kind"), q.Get("lang"), q.Get("tenant"))
			return d, d, err
		})
	})
}

// handleOrgMeasures answers GET /api/v1/compliance/measures.
func (s *Server) handleOrgMeasures() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.OrgMeasure], error) {
		svc, err := s.documents()
		if err != nil {
			return nil, err
		}
		list, err := svc.OrgMeasures(r.Context())
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.OrgMeasure]{Items: list}, nil
	})
}

// handleOrgMeasureAdd answers POST /api/v1/compliance/measures.
func (s *Server) handleOrgMeasureAdd() http.Handler {
	type body struct {
		Kind        string `json:"kind"`
		Description string `json:"description"`
		Date        string `json:"date"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, b *body) (*skjold.OrgMeasure, error) {
		svc, err := s.documents()
		if err != nil {
			return nil, err
		}
		m := &skjold.OrgMeasure{Kind: b.Kind, Description: b.Description, Date: b.Date}
		return m, svc.AddOrgMeasure(r.Context(), m)
	})
}

// handleOrgMeasureDelete answers DELETE /api/v1/compliance/measures/{id}.
func (s *Server) handleOrgMeasureDelete() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		svc, err := s.documents()
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteOrgMeasure(r.Context(), r.PathValue("id"))
	})
}
