package skjold

import (
	"context"
	"strings"
)

type ifMatchKey struct{}

// WithIfMatch returns a context that makes a write conditional: it goes ahead only if the
// object's current Version is one of tags, the entity tags of an If-Match header ("*" matches
// any existing object). The store checks it inside the write's transaction, so no other write
// can slip in between the check and the change.
func WithIfMatch(ctx context.Context, tags []string) context.Context {
	return context.WithValue(ctx, ifMatchKey{}, tags)
}

// CheckIfMatch returns nil when ctx carries no If-Match or when one of its tags names version
// (strong comparison: a weak tag W/"…" never matches, as RFC 9110 requires of If-Match), and an
// EPRECONDITION error otherwise.
func CheckIfMatch(ctx context.Context, version string) error {
	tags, ok := ctx.Value(ifMatchKey{}).([]string)
	if !ok {
		return nil
	}
	for _, tag := range tags {
		if tag == "*" || (version != "" && tag == ETag(version)) {
			return nil
		}
	}
	return Errorf(EPRECONDITION, "the object has changed since it was read (If-Match names another version): read it again")
}

// ETag is the HTTP entity tag of an object version: the version in double quotes.
func ETag(version string) string {
	return `"` + version + `"`
}

// ParseIfMatch splits the value of If-Match headers into entity tags, keeping weak tags as
// written so that they fail the strong comparison. It reports false for a malformed value.
func ParseIfMatch(values []string) ([]string, bool) {
	var tags []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			tag := strings.TrimSpace(part)
			switch {
			case tag == "":
				continue
			case tag == "*":
			case strings.HasPrefix(strings.TrimPrefix(tag, "W/"), `"`) && strings.HasSuffix(tag, `"`) && len(strings.TrimPrefix(tag, "W/")) >= 2:
			default:
				return nil, false
			}
			tags = append(tags, tag)
		}
	}
	return tags, len(tags) > 0
}

// HasIfMatch reports whether ctx makes writes conditional.
func HasIfMatch(ctx context.Context) bool {
	_, ok := ctx.Value(ifMatchKey{}).([]string)
	return ok
}
