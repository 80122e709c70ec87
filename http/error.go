// Package http serves Skjold's REST API over HTTPS: routes, authentication by bearer token,
// JSON decoding with limits, the one mapping from domain error codes to HTTP statuses,
// metrics and the OpenAPI document.
package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

// statuses maps domain error codes to HTTP statuses. It is the only such mapping.
var statuses = map[string]int{
	skjold.ECONFLICT:     http.StatusConflict,
	skjold.EFORBIDDEN:    http.StatusForbidden,
	skjold.EINTERNAL:     http.StatusInternalServerError,
	skjold.EINVALID:      http.StatusBadRequest,
	skjold.ENOTFOUND:     http.StatusNotFound,
	skjold.EUNAUTHORIZED: http.StatusUnauthorized,
	skjold.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	skjold.ETOOMANY:      http.StatusTooManyRequests,
	skjold.EREADBUDGET:   http.StatusTooManyRequests,
	skjold.EUNAVAILABLE:  http.StatusServiceUnavailable,
	skjold.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	skjold.EMETHOD:       http.StatusMethodNotAllowed,
}

// defaultRetryAfter is the Retry-After sent on a 429 or 503 whose wait is not known: a
// client that retries at once would only add to the load.
const defaultRetryAfter = 5 * time.Second

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

// fail writes err as a JSON error. Internal errors are logged with their cause and shown to
// the client only as "internal error"; the log line names the route, never request data.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) {
		err = skjold.Errorf(skjold.EUNAVAILABLE, "request cancelled")
	}
	code := skjold.ErrorCode(err)
	if code == skjold.EINTERNAL {
		log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	body := errorBody{Error: errorDetail{Code: code, Message: skjold.ErrorMessage(err)}}
	var e *skjold.Error
	retry := time.Duration(0)
	if errors.As(err, &e) {
		body.Error.Field, body.Error.Rule = e.Field, e.Rule
		retry = e.RetryAfter
	}
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if retry <= 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		retry = defaultRetryAfter
	}
	if retry > 0 { // whole seconds, rounded up, so that a retry at once is not early
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="skjold"`)
	}
	respond(w, status, body)
}
