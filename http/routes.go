package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

// perm is what a route needs: nothing (public), a tenant token holding a scope, an operator
// token, or either of the last two.
type perm struct {
	public   bool
	scope    string // a tenant token with this scope may call the route
	operator bool   // an operator token may call the route
}

var (
	public       = perm{public: true}
	operatorOnly = perm{operator: true}
)

func tenant(scope string) perm           { return perm{scope: scope} }
func tenantOrOperator(scope string) perm { return perm{scope: scope, operator: true} }

// allows returns nil when tok may call a route needing p, and EFORBIDDEN otherwise.
func (p perm) allows(tok *skjold.Token) error {
	switch {
	case tok.Operator && p.operator:
		return nil
	case tok.Operator:
		return skjold.Errorf(skjold.EFORBIDDEN, "operator tokens cannot call this route: it needs a tenant token")
	case p.scope == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "this route needs an operator token")
	case !(&skjold.Caller{Scopes: tok.Scopes}).Can(p.scope):
		return skjold.Errorf(skjold.EFORBIDDEN, "this token lacks the %q scope", p.scope)
	}
	return nil
}

type route struct {
	pattern string
	perm    perm
	handler http.Handler
}

// routes is the whole API surface, each route with the permission it needs.
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", public, s.handleHealth()},
		{"GET /api/v1/openapi.json", public, s.handleOpenAPI()},
		{"GET /metrics", operatorOnly, s.metrics.handler()},

		{"POST /api/v1/tenants", operatorOnly, s.handleTenantCreate()},
		{"GET /api/v1/tenants", operatorOnly, s.handleTenantList()},
		{"GET /api/v1/tenants/{id}", operatorOnly, s.handleTenantGet()},

		{"POST /api/v1/tokens", tenantOrOperator(skjold.ScopeAdmin), s.handleTokenCreate()},
		{"GET /api/v1/tokens", tenantOrOperator(skjold.ScopeAdmin), s.handleTokenList()},
		{"DELETE /api/v1/tokens/{id}", tenantOrOperator(skjold.ScopeAdmin), s.handleTokenRevoke()},

		{"GET /api/v1/categories", tenant(skjold.ScopeRead), s.handleCategoryList()},
		{"GET /api/v1/categories/{name}", tenant(skjold.ScopeRead), s.handleCategoryGet()},
		{"PUT /api/v1/categories/{name}", tenant(skjold.ScopeAdmin), s.handleCategoryPut()},

		{"POST /api/v1/subjects", tenant(skjold.ScopeWrite), s.handleSubjectCreate()},
		{"GET /api/v1/subjects", tenant(skjold.ScopeRead), s.handleSubjectList()},
		{"GET /api/v1/subjects/{id}", tenant(skjold.ScopeRead), s.handleSubjectGet()},
		{"PATCH /api/v1/subjects/{id}", tenant(skjold.ScopeWrite), s.handleSubjectUpdate()},
		{"DELETE /api/v1/subjects/{id}", tenant(skjold.ScopeWrite), s.handleSubjectDelete()},

		{"POST /api/v1/subjects/{id}/records", tenant(skjold.ScopeWrite), s.handleRecordCreate()},
		{"GET /api/v1/subjects/{id}/records", tenant(skjold.ScopeRead), s.handleRecordList()},
		{"GET /api/v1/records/{id}", tenant(skjold.ScopeRead), s.handleRecordGet()},
		{"PATCH /api/v1/records/{id}", tenant(skjold.ScopeWrite), s.handleRecordUpdate()},
		{"DELETE /api/v1/records/{id}", tenant(skjold.ScopeWrite), s.handleRecordDelete()},

		{"GET /api/v1/audit", tenantOrOperator(skjold.ScopeAudit), s.handleAuditList()},
		{"GET /api/v1/audit/verify", operatorOnly, s.handleAuditVerify()},
	}
}
