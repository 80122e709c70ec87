package http

import (
	"net/http"
	"strconv"

	"github.com/skjold-project/skjold"
)

// listBody is the shape of every list response: the items and, when more may follow, the
// cursor to pass as ?after= for the next page.
type listBody[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// pageOf reads ?after= and ?limit=.
func pageOf(r *http.Request) (skjold.Page, error) {
	p := skjold.Page{After: r.URL.Query().Get("after")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return p, skjold.FieldError("limit", "type", "limit must be a whole number")
		}
		p.Limit = n
	}
	return p, p.Normalize()
}

// list builds a list response; next is the id of the last item when the page is full.
func list[T any](items []T, p skjold.Page, id func(T) string) listBody[T] {
	b := listBody[T]{Items: items}
	if len(items) > 0 && len(items) == p.Limit {
		b.Next = id(items[len(items)-1])
	}
	return b
}
