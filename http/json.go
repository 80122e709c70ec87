package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
)

// MaxBodySize is the largest request body accepted: 1 MiB.
const MaxBodySize = 1 << 20

// decode reads a JSON request body into v. It refuses a body that is not JSON, over
// MaxBodySize, not valid UTF-8 (encoding/json would silently replace bad bytes), null, with
// unknown fields, of the wrong types, or followed by more data. Numbers in untyped places come
// out as json.Number, exactly as sent.
func decode(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return skjold.Errorf(skjold.EUNSUPPORTED, "the request body must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return skjold.Errorf(skjold.EINVALID, "the request body could not be read")
	}
	if len(body) > MaxBodySize {
		return skjold.Errorf(skjold.ETOOLARGE, "the request body is over %d bytes", MaxBodySize)
	}
	return decodeJSON(body, v)
}

// bodyless wraps the handler of a route that takes no request body: a request that carries
// one (any byte at all, JSON or not) is refused with EINVALID before the handler runs, so a
// body that would be ignored (`{"restricted": false}` on PUT …/restriction) changes nothing.
// Which routes take a body is read from the OpenAPI document: an operation without
// requestBody takes none.
func (s *Server) bodyless(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := refuseBody(r); err != nil {
			fail(w, r, s.log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseBody returns EINVALID when r carries a body. A body of unknown length (chunked) is
// probed for its first byte.
func refuseBody(r *http.Request) error {
	empty := r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody
	if !empty && r.ContentLength < 0 {
		var b [1]byte
		n, _ := io.ReadFull(r.Body, b[:])
		empty = n == 0
	}
	if empty {
		return nil
	}
	return &skjold.Error{Code: skjold.EINVALID, Field: "body", Rule: "no_body",
		Message: "this request takes no body: send it without one"}
}

// takesBody reports whether the route pattern ("PUT /api/v1/x/{id}") has a requestBody in the
// OpenAPI document. The document is embedded and checked by the tests, so a failure to read
// it is a build fault.
func takesBody(pattern string) bool {
	method, path, _ := strings.Cut(pattern, " ")
	_, ok := bodyRoutes()[strings.ToLower(method)+" "+path]
	return ok
}

var bodyRoutes = sync.OnceValue(func() map[string]struct{} {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		panic("http: the embedded openapi.json does not parse: " + err.Error())
	}
	m := map[string]struct{}{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				RequestBody json.RawMessage `json:"requestBody"`
			}
			// Path-level members such as parameters are not objects: they are no operation.
			if json.Unmarshal(raw, &op) == nil && len(op.RequestBody) > 0 {
				m[method+" "+path] = struct{}{}
			}
		}
	}
	return m
})

// decodeJSON is decode without the HTTP: the part fuzz tests exercise.
func decodeJSON(body []byte, v any) error {
	if !utf8.Valid(body) {
		return skjold.Errorf(skjold.EINVALID, "the request body is not valid UTF-8")
	}
	if string(bytes.Trim(body, " \t\r\n")) == "null" {
		// encoding/json decodes null into a struct as no change at all: it is not an object.
		return skjold.Errorf(skjold.EINVALID, "the request body must be a JSON object, not null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return skjold.Errorf(skjold.EINVALID, "the request body holds more than one JSON value")
	}
	walk := json.NewDecoder(bytes.NewReader(body))
	walk.UseNumber() // as above: a number too large for a float64 is the caller's to judge
	return exactKeys(walk, reflect.TypeOf(v), "")
}

// exactKeys walks the JSON value in dec beside t, the Go type it was decoded into, and
// refuses what encoding/json lets through: a key that matches a field only when case is
// ignored ("NAME" for "name"), and a key given twice in one object (encoding/json keeps the
// last, where another parser might keep the first). t is nil where any value is allowed.
func exactKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return skjold.Errorf(skjold.EINVALID, "the request body is not valid JSON for this request")
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type // the type of every value, for a map
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			fields = jsonFields(t)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return skjold.Errorf(skjold.EINVALID, "the request body is not valid JSON for this request")
			}
			key := tok.(string)
			name := key
			if path != "" {
				name = path + "." + key
			}
			if seen[key] {
				return &skjold.Error{Code: skjold.EINVALID, Field: name, Rule: "duplicate",
					Message: fmt.Sprintf("field %q appears more than once", name)}
			}
			seen[key] = true
			ft := elem
			if fields != nil {
				var ok bool
				if ft, ok = fields[key]; !ok {
					return &skjold.Error{Code: skjold.EINVALID, Field: name, Rule: "unknown",
						Message: fmt.Sprintf("unknown field %q (field names are case-sensitive)", name)}
				}
			}
			if err := exactKeys(dec, ft, name); err != nil {
				return err
			}
		}
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := exactKeys(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil // a scalar
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// jsonFields returns a struct's JSON field names with their types, as encoding/json names
// them (tag name, else the Go name; embedded structs flattened).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonError turns a decoding error into a message that names the place, never the value.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return skjold.Errorf(skjold.EINVALID, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return skjold.Errorf(skjold.EINVALID, "a field has the wrong JSON type: expected %s", jsonKind(typ.Type.Kind().String()))
	case errors.As(err, &typ):
		return &skjold.Error{Code: skjold.EINVALID, Field: typ.Field, Rule: "type",
			Message: fmt.Sprintf("field %q must be a JSON %s", typ.Field, jsonKind(typ.Type.Kind().String()))}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return skjold.Errorf(skjold.EINVALID, "the request body is empty or cut short")
	}
	var unknown string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); scanErr == nil {
		return &skjold.Error{Code: skjold.EINVALID, Field: unknown, Rule: "unknown",
			Message: fmt.Sprintf("unknown field %q", unknown)}
	}
	return skjold.Errorf(skjold.EINVALID, "the request body is not valid JSON for this request")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return "number"
}

// respond writes v as JSON with the given status.
func respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(v) // a failed write means the client is gone: nothing left to tell it
	}
}

// optString is a JSON string field of a partial update that tells absent, null and a value
// apart: absent leaves a value, null clears it.
type optString struct {
	Set   bool
	Value string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = ""
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr returns nil for an absent field and a pointer to the value ("" for null) otherwise.
func (o optString) ptr() *string {
	if !o.Set {
		return nil
	}
	return &o.Value
}

// handlePut serves a create-or-replace of an object named in the path ({name}): it decodes
// the body, refuses a name in the body that differs from the path's, and answers 201 when
// put created the object or 200 when it replaced it, with the object as stored.
func handlePut[Req, T any](s *Server, bodyName func(*Req) string,
	put func(ctx context.Context, name string, req *Req) (T, bool, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		name := r.PathValue("name")
		if n := bodyName(&req); n != "" && n != name {
			fail(w, r, s.log, skjold.FieldError("name", "mismatch", "the name in the body differs from the name in the path"))
			return
		}
		v, created, err := put(r.Context(), name, &req)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", r.URL.EscapedPath())
		}
		respond(w, status, v)
	})
}
