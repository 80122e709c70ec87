package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The console's Documents page [G3, G4]: the technical and organisational measures and the
// records of processing, as HTML in a chosen language or as a PDF download (the same
// documents as GET /api/v1/compliance/documents/{kind}), and the organisational measures
// they show (GET/POST /api/v1/compliance/measures).

func init() {
	see := either(skjold.ScopeAdmin, skjold.ScopeOperatorRead)
	change := either(skjold.ScopeAdmin, skjold.ScopeOperatorManage)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/documents", see, s.handleConsoleDocuments()},
			{"GET /console/documents/{kind}", see, s.handleConsoleDocument()},
			{"GET /console/documents/{kind}/pdf", see, s.handleConsoleDocumentPDF()},
			{"POST /console/documents/measures", change, s.handleConsoleMeasureAdd()},
			{"POST /console/documents/measures/{id}/delete", change, s.handleConsoleMeasureDelete()},
		}
	}, navItem{76, "/console/documents", "nav.compliance_documents", see})
}

type documentsData struct {
	Kinds        []string
	Languages    []string
	Lang         string               // the language chosen for the documents
	Kind         string               // the document shown; "" on the index
	Doc          *document.Document   // the document shown
	Measures     []*skjold.OrgMeasure // the organisational measures
	MeasureKinds []string             // the kinds of organisational measure
}

// documentLang is the language asked with ?lang=, else the page's.
func documentLang(r *http.Request, v *web.View) string {
	if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
		return l
	}
	return v.Lang()
}

func (s *Server) documentsLoad(r *http.Request, kind string) func(v *web.View) error {
	return func(v *web.View) error {
		svc, err := s.documents()
		if err != nil {
			return err
		}
		d := &documentsData{Kinds: skjold.DocumentKinds, Languages: i18n.Languages, Lang: documentLang(r, v),
			Kind: kind, MeasureKinds: skjold.MeasureKinds}
		if kind != "" {
			d.Doc, err = s.complianceDocument(r.Context(), kind, d.Lang, "")
		} else {
			d.Measures, err = svc.OrgMeasures(r.Context())
		}
		v.Data = d
		return err
	}
}

func (s *Server) handleConsoleDocuments() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "compliance_docs_page", consoleOf(r).newView("compliance_docs_page.title"), s.documentsLoad(r, ""))
	})
}

func (s *Server) handleConsoleDocument() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.PathValue("kind")
		s.cfgPage(w, r, http.StatusOK, "compliance_docs_page", consoleOf(r).newView("compliance_docs_page."+safeKind(kind)), s.documentsLoad(r, kind))
	})
}

// safeKind keeps a title key to a known document kind.
func safeKind(kind string) string {
	for _, k := range skjold.DocumentKinds {
		if k == kind {
			return k
		}
	}
	return "title"
}

func (s *Server) handleConsoleDocumentPDF() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("compliance_docs_page.title")
		d, err := s.complianceDocument(r.Context(), r.PathValue("kind"), documentLang(r, v), "")
		if err == nil {
			err = writeDocumentPDF(w, d)
			if err != nil {
				s.log.Error("compliance document pdf", "kind", d.Kind, "err", err)
			}
			return
		}
		s.consoleFail(w, r, consoleOf(r).id, err)
	})
}

var measureFields = []string{"kind", "description", "date"}

func (s *Server) handleConsoleMeasureAdd() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.documents()
		if err == nil {
			err = svc.AddOrgMeasure(r.Context(), &skjold.OrgMeasure{Kind: r.PostForm.Get("kind"),
				Description: r.PostForm.Get("description"), Date: strings.TrimSpace(r.PostForm.Get("date"))})
		}
		if err == nil {
			http.Redirect(w, r, "/console/documents?m=compliance_measure_saved", http.StatusSeeOther)
			return
		}
		s.cfgRefused(w, r, "compliance_docs_page", "compliance_docs_page.title", err, measureFields, s.documentsLoad(r, ""))
	})
}

func (s *Server) handleConsoleMeasureDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.documents()
		if err == nil {
			err = svc.DeleteOrgMeasure(r.Context(), r.PathValue("id"))
		}
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/documents?m=compliance_measure_deleted", http.StatusSeeOther)
	})
}
