package http

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/imports"
)

// importWriteTimeout replaces the server's write timeout for an import, which checks and
// writes every row before it answers.
const importWriteTimeout = 10 * time.Minute

// handleImport imports subjects and records into the caller's tenant from a CSV file, a ZIP
// of CSV files or an XLSX workbook sent base64-encoded in a JSON body (so at most about
// 750 kB of file a request: bigger files go in parts, or through "skjold import"). It answers
// 200 with the report: counts, and every refused row's line, field and rule.
func (s *Server) handleImport() http.Handler {
	type request struct {
		Format       string            `json:"format"`
		Data         string            `json:"data"`
		Mapping      map[string]string `json:"mapping"`
		AllOrNothing bool              `json:"all_or_nothing"`
		Batch        int               `json:"batch"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		switch req.Format {
		case "", imports.FormatCSV, imports.FormatZIP, imports.FormatXLSX:
		default:
			fail(w, r, s.log, skjold.FieldError("format", "format", "format must be %s, %s or %s", imports.FormatCSV, imports.FormatZIP, imports.FormatXLSX))
			return
		}
		file, err := base64.StdEncoding.DecodeString(req.Data)
		if err != nil {
			fail(w, r, s.log, skjold.FieldError("data", "base64", "data must be the file, base64-encoded"))
			return
		}
		if len(file) == 0 {
			fail(w, r, s.log, skjold.FieldError("data", "required", "data is required: the file, base64-encoded"))
			return
		}
		if req.Batch < 0 || req.Batch > 5000 {
			fail(w, r, s.log, skjold.FieldError("batch", "range", "batch must be between 1 and 5000"))
			return
		}
		opt := imports.Options{Format: req.Format, AllOrNothing: req.AllOrNothing, Batch: req.Batch}
		if req.Mapping != nil {
			opt.Mapping = imports.Mapping(req.Mapping)
			for col, to := range req.Mapping {
				if to == "" {
					fail(w, r, s.log, skjold.FieldError("mapping", "target", "the mapping of column %q must name a field, or be \"-\"", col))
					return
				}
			}
		}
		if s.svc.Import == nil {
			fail(w, r, s.log, skjold.Errorf(skjold.EUNAVAILABLE, "imports are not available on this server"))
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(importWriteTimeout))
		rep, err := imports.Run(r.Context(), s.svc.Import, s.svc.Categories, file, opt)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, rep)
	})
}
