package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

// setETag sends the version of a single stored object as its ETag, for a client to send back
// in If-Match when it changes or deletes the object.
func setETag(w http.ResponseWriter, version string) {
	if version != "" {
		w.Header().Set("ETag", skjold.ETag(version))
	}
}

// conditional makes the write of h conditional on If-Match: the store compares the tags with
// the object's current version inside the write's transaction and refuses with 412
// (precondition_failed) when none matches, so that of two clients editing one object, the
// second learns that it edited a stale copy instead of silently overwriting the first. Without
// If-Match the write is unconditional, as before. A malformed header is refused (400).
func (s *Server) conditional(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("If-Match")
		if len(values) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		tags, ok := skjold.ParseIfMatch(values)
		if !ok {
			fail(w, r, s.log, skjold.FieldError("If-Match", "etag", `If-Match must list entity tags such as "3q2-7w" (as sent in ETag), or *`))
			return
		}
		h.ServeHTTP(w, r.WithContext(skjold.WithIfMatch(r.Context(), tags)))
	})
}
