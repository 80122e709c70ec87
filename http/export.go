package http

import (
	"io"
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/export"
)

// exportWriteTimeout replaces the server's write timeout for a tenant export, which may
// stream for minutes.
const exportWriteTimeout = time.Hour

// exportFormats are the formats a tenant export comes in: content type, file name suffix,
// and the sink writing it.
var exportFormats = map[string]struct {
	contentType, suffix string
	sink                func(io.Writer) closingSink
}{
	skjold.FormatXLSX: {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx",
		func(w io.Writer) closingSink { return export.NewXLSX(w) }},
	skjold.FormatCSV:  {"application/zip", "-csv.zip", func(w io.Writer) closingSink { return csvSink{export.NewCSV(w)} }},
	skjold.FormatJSON: {"application/json", ".json", func(w io.Writer) closingSink { return jsonSink{export.NewJSON(w)} }},
}

// closingSink is an export sink that finishes its file on Close, or drops it on Abort.
type closingSink interface {
	skjold.ExportSink
	Close() error
	Abort() error
}

type csvSink struct{ *export.CSV }

func (csvSink) Abort() error { return nil }

type jsonSink struct{ *export.JSON }

func (jsonSink) Abort() error { return nil }

// lazyWriter sends the response's headers with the first byte of the body, so that an
// error before it can still be answered as a normal JSON error.
type lazyWriter struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.header(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

// handleExport streams the caller's tenant's data as XLSX (default), a ZIP of CSV files, or
// JSON [D6]. An error before the first byte is a normal JSON error; one after it aborts the
// connection, so that a cut-off file is never taken for a whole one.
func (s *Server) handleExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format := q.Get("format")
		if format == "" {
			format = skjold.FormatXLSX
		}
		f, ok := exportFormats[format]
		if !ok {
			fail(w, r, s.log, skjold.FieldError("format", "format", "format must be %s, %s or %s", skjold.FormatXLSX, skjold.FormatCSV, skjold.FormatJSON))
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		name := "skjold-export-" + time.Now().UTC().Format("20060102-150405") + f.suffix
		lw := &lazyWriter{w: w, header: func(h http.Header) {
			h.Set("Content-Type", f.contentType)
			h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
			h.Set("Cache-Control", "no-store")
		}}
		sink := f.sink(lw)
		err := s.svc.Export.ExportTenant(r.Context(), q.Get("approval"), sink)
		if err == nil {
			err = sink.Close()
		} else if aerr := sink.Abort(); aerr != nil {
			s.log.Error("tenant export left temporary files", "err", aerr)
		}
		switch {
		case err != nil && !lw.started:
			fail(w, r, s.log, err)
		case err != nil:
			s.log.Warn("tenant export cut off", "err", err)
			panic(http.ErrAbortHandler)
		}
	})
}
