package http

import (
	"net/http"
	"sync"
	"testing"

	"github.com/skjold-project/skjold"
)

func ifMatch(tag string) http.Header {
	return http.Header{"If-Match": {tag}}
}

// TestETagIfMatch: single subjects and records carry an ETag that changes with every write, and
// a PATCH or DELETE sent with If-Match goes ahead only on the version it names.
func TestETagIfMatch(t *testing.T) {
	e := newEnv(t)
	tok := e.a.token
	sub := e.createSubject(t, tok, map[string]string{"name": "Anna", "email": "anna@example.com"})
	path := "/api/v1/subjects/" + sub.ID

	first := e.do(t, tok, "GET", path, nil).want(t, 200).header.Get("ETag")
	if len(first) < 10 || first[0] != '"' || first[len(first)-1] != '"' {
		t.Fatalf("GET %s: ETag %q", path, first)
	}
	if again := e.do(t, tok, "GET", path, nil).header.Get("ETag"); again != first {
		t.Fatalf("two reads of an unchanged subject: ETag %q then %q", first, again)
	}

	// The version read goes through, and the answer carries the new one.
	second := e.doWith(t, tok, ifMatch(first), "PATCH", path, map[string]string{"name": "Anna B"}).want(t, 200).header.Get("ETag")
	if second == "" || second == first {
		t.Fatalf("PATCH: ETag %q after %q", second, first)
	}
	if got := e.do(t, tok, "GET", path, nil).header.Get("ETag"); got != second {
		t.Fatalf("GET after PATCH: ETag %q, the PATCH answered %q", got, second)
	}

	// A stale, weak or malformed tag changes nothing.
	for _, c := range []struct {
		tag    string
		status int
		code   string
	}{
		{first, 412, skjold.EPRECONDITION},
		{"W/" + second, 412, skjold.EPRECONDITION},
		{`"nonsense"`, 412, skjold.EPRECONDITION},
		{"no-quotes", 400, skjold.EINVALID},
	} {
		e.unchanged(t, func() {
			r := e.doWith(t, tok, ifMatch(c.tag), "PATCH", path, map[string]string{"name": "Mallory"})
			if got := r.wantError(t, c.status, c.code); c.code == skjold.EINVALID && got.Field != "If-Match" {
				t.Errorf("If-Match %s: error %+v", c.tag, got)
			}
		})
	}
	// A list of tags matches if any does; * matches any existing object.
	third := e.doWith(t, tok, ifMatch(first+`, `+second), "PATCH", path, map[string]string{"name": "Anna C"}).want(t, 200).header.Get("ETag")
	e.doWith(t, tok, ifMatch("*"), "PATCH", path, map[string]string{"name": "Anna D"}).want(t, 200)

	// Records: the same for PATCH and DELETE, and a create answers with the first version.
	created := e.do(t, tok, "POST", path+"/records", map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi"}}).want(t, 201)
	var rec skjold.Record
	created.decode(t, &rec)
	recPath := "/api/v1/records/" + rec.ID
	recTag := created.header.Get("ETag")
	if got := e.do(t, tok, "GET", recPath, nil).want(t, 200).header.Get("ETag"); recTag == "" || got != recTag {
		t.Fatalf("record: created with ETag %q, read with %q", recTag, got)
	}
	newTag := e.doWith(t, tok, ifMatch(recTag), "PATCH", recPath, map[string]any{"data": map[string]string{"message": "Hello"}}).
		want(t, 200).header.Get("ETag")
	e.unchanged(t, func() {
		e.doWith(t, tok, ifMatch(recTag), "DELETE", recPath, nil).wantError(t, 412, skjold.EPRECONDITION)
	})
	e.doWith(t, tok, ifMatch(newTag), "DELETE", recPath, nil).want(t, 204)

	// Erasing the subject with a stale tag erases nothing.
	e.unchanged(t, func() {
		e.doWith(t, tok, ifMatch(third), "DELETE", path, nil).wantError(t, 412, skjold.EPRECONDITION)
	})
	current := e.do(t, tok, "GET", path, nil).want(t, 200).header.Get("ETag")
	e.doWith(t, tok, ifMatch(current), "DELETE", path, nil).want(t, 200)
	e.do(t, tok, "GET", path, nil).want(t, 404)
}

// TestIfMatchRace: of clients that all read one version and write it back at once, exactly
// one wins; the check and the write are one transaction.
func TestIfMatchRace(t *testing.T) {
	e := newEnv(t)
	tok := e.a.token
	sub := e.createSubject(t, tok, map[string]string{"name": "Anna"})
	path := "/api/v1/subjects/" + sub.ID
	tag := e.do(t, tok, "GET", path, nil).want(t, 200).header.Get("ETag")
	const clients = 8
	statuses := make(chan int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.doWith(t, tok, ifMatch(tag), "PATCH", path, map[string]string{"name": "Writer " + string(rune('A'+i))}).status
		}()
	}
	wg.Wait()
	close(statuses)
	won := 0
	for s := range statuses {
		switch s {
		case 200:
			won++
		case 412:
		default:
			t.Errorf("status %d", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d writers with the same If-Match went through, want 1", won, clients)
	}
}
