package http

import (
	_ "embed"
	"net/http"
	"strconv"
	"time"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) handleHealth() http.Handler {
	type response struct {
		Status  string `json:"status"`
		Engine  string `json:"engine"`
		Version string `json:"version"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Health(r.Context()); err != nil {
			s.log.Error("health check failed", "err", err)
			w.Header().Set("Retry-After", strconv.FormatInt(int64(defaultRetryAfter/time.Second), 10))
			respond(w, http.StatusServiceUnavailable, response{Status: "unavailable", Engine: s.engine, Version: s.version})
			return
		}
		respond(w, http.StatusOK, response{Status: "ok", Engine: s.engine, Version: s.version})
	})
}

func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapiDoc)
	})
}
