// Package http serves Skjold's REST API over HTTPS: routes, authentication by bearer token,
// JSON decoding with limits, the one mapping from domain error codes to HTTP statuses,
// metrics and the OpenAPI document.
package http

import (
	"context"
	"encoding/json"
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
	skjold.EPRECONDITION: http.StatusPreconditionFailed,
}

// defaultRetryAfter is the Retry-After sent on a 429 or 503 whose wait is not known: a
// client that retries at once would only add to the load.
const defaultRetryAfter = 5 * time.Second

// problemType is the prefix of a problem document's type: the code follows it.
const problemType = "urn:skjold:problem:"

// titles are the problem documents' titles, one per code: the same for every occurrence.
var titles = map[string]string{
	skjold.ECONFLICT:     "Conflict with the current state",
	skjold.EFORBIDDEN:    "Forbidden",
	skjold.EINTERNAL:     "Internal error",
	skjold.EINVALID:      "Invalid request",
	skjold.ENOTFOUND:     "Not found",
	skjold.EUNAUTHORIZED: "Unauthorized",
	skjold.ETOOLARGE:     "Request body too large",
	skjold.ETOOMANY:      "Too many requests",
	skjold.EREADBUDGET:   "Read budget exceeded",
	skjold.EUNAVAILABLE:  "Service unavailable",
	skjold.EUNSUPPORTED:  "Unsupported media type",
	skjold.EMETHOD:       "Method not allowed",
}

// errorBody is every error answer: an RFC 9457 problem document (application/problem+json)
// with Skjold's code, field and rule as extensions, every field error in Errors, and the
// error object of earlier releases in Error, kept for one release so that clients reading it
// go on working.
type errorBody struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Code   string         `json:"code"`
	Field  string         `json:"field,omitempty"`
	Rule   string         `json:"rule,omitempty"`
	Errors []fieldProblem `json:"errors,omitempty"`
	Error  errorDetail    `json:"error"`
}

// fieldProblem is one field error of a problem document.
type fieldProblem struct {
	Field  string `json:"field"`
	Rule   string `json:"rule,omitempty"`
	Detail string `json:"detail"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

// fail writes err as a problem document. Internal errors are logged with their cause and shown to
// the client only as "internal error"; the log line names the route, never request data.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) {
		err = skjold.Errorf(skjold.EUNAVAILABLE, "request cancelled")
	} else if errors.Is(err, context.DeadlineExceeded) && skjold.ErrorCode(err) == skjold.EINTERNAL {
		err = &skjold.Error{Code: skjold.EUNAVAILABLE, Message: "the server is busy; try again shortly", RetryAfter: defaultRetryAfter}
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
		for _, fe := range e.Errors {
			body.Errors = append(body.Errors, fieldProblem{Field: fe.Field, Rule: fe.Rule, Detail: fe.Message})
		}
		if len(e.Errors) == 0 && e.Field != "" {
			body.Errors = []fieldProblem{{Field: e.Field, Rule: e.Rule, Detail: e.Message}}
		}
	}
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if body.Title = titles[code]; body.Title == "" {
		body.Title = http.StatusText(status)
	}
	body.Type, body.Status, body.Detail = problemType+code, status, body.Error.Message
	body.Code, body.Field, body.Rule = code, body.Error.Field, body.Error.Rule
	if retry <= 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		retry = defaultRetryAfter
	}
	if retry > 0 { // whole seconds, rounded up, so that a retry at once is not early
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="skjold"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(body) // a failed write means the client is gone: nothing left to tell it
}
