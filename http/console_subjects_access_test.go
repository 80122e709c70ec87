package http

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/skjold-project/skjold"
)

// The route × caller matrix's requests for the subjects, people and audit pages
// (TestConsoleAuthorization).

var matrixPeople atomic.Int64

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		get := func(path string) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: path} }
		}
		post := func(path string, form url.Values, refusals ...int) consoleBuild {
			return func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: path, form: form, refusals: refusals}
			}
		}
		// onSubject makes a request on a fresh subject of tenant A (own) or B (other).
		onSubject := func(action string, form url.Values, refusals ...int) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own:
					id = e.createSubject(t, e.a.token, map[string]string{"name": "Mari Matrix", "birth_date": "1980-02-03"}).ID
				case other:
					id = e.createSubject(t, e.b.token, map[string]string{"name": "Mari Matrix"}).ID
				}
				return consoleCall{path: "/console/subjects/" + id + action, form: form, refusals: refusals}
			}
		}
		// onUser makes a request on a fresh agent of the caller's side (own: tenant A, or
		// operator staff for an operator) or of tenant B (other).
		onUser := func(action string, form url.Values, refusals ...int) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own:
					if c.op {
						id = e.activeStaff(t, "", skjold.RoleSupport, "").user.ID
					} else {
						id = e.activeStaff(t, e.a.id, skjold.RoleAgent, "").user.ID
					}
				case other:
					id = e.activeStaff(t, e.b.id, skjold.RoleAgent, "").user.ID
				}
				return consoleCall{path: "/console/users/" + id + action, form: form, refusals: refusals}
			}
		}
		return map[string]consoleBuild{
			"GET /console/subjects": get("/console/subjects"),
			"POST /console/subjects/search": post("/console/subjects/search",
				url.Values{"by": {"email"}, "q": {"nobody@example.com"}}, 404),
			"GET /console/subjects/new":  get("/console/subjects/new"),
			"POST /console/subjects/new": post("/console/subjects/new", url.Values{"name": {""}}, 400),
			"GET /console/subjects/{id}": onSubject("", nil),
			"POST /console/subjects/{id}/reveal": onSubject("/reveal", url.Values{"purpose": {"credit_check"}},
				400, 403),
			"POST /console/subjects/{id}/edit":        onSubject("/edit", url.Values{"name": {"Mari Matrix"}}, 400),
			"POST /console/subjects/{id}/records":     onSubject("/records", url.Values{"category": {"enquiry"}, "message": {"Hi"}}, 400),
			"POST /console/subjects/{id}/restriction": onSubject("/restriction", url.Values{"on": {"false"}}, 409),
			"POST /console/subjects/{id}/objection":   onSubject("/objection", url.Values{"on": {"false"}}, 409),
			"POST /console/subjects/{id}/erase":       onSubject("/erase", url.Values{}, 400),
			"GET /console/users":                      get("/console/users"),
			"POST /console/users": func(*testing.T, *consoleCaller, object) consoleCall {
				n := matrixPeople.Add(1)
				return consoleCall{path: "/console/users", form: url.Values{"name": {"Matrix Person"},
					"email": {fmt.Sprintf("matrix-%d@staff.example", n)}, "role": {"auditor"}}, refusals: []int{400, 403}}
			},
			"POST /console/users/{id}/suspend":          onUser("/suspend", url.Values{"suspend": {"true"}}),
			"POST /console/users/{id}/two-factor-reset": onUser("/two-factor-reset", url.Values{}, 400, 409),
			"GET /console/audit":                        get("/console/audit"),
			"POST /console/audit":                       post("/console/audit", url.Values{"action": {"subject.read"}}),
		}
	})
}
