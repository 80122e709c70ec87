package http

import (
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestClusterNodesListed shows a node of the registry through GET /api/v1/cluster and on the
// console's health page, in each language, and keeps tenants out of the list.
func TestClusterNodesListed(t *testing.T) {
	e := newEnv(t)
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true})
	n := &skjold.Node{ID: "node-a :8443", Address: "https://a.example", Version: "v9", KeyIDs: []string{"0011223344556677"},
		StartedAt: time.Now()}
	if err := e.db.Heartbeat(op, n); err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []skjold.Node }
	e.do(t, e.operator, "GET", "/api/v1/cluster", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != n.ID || list.Items[0].Status != "up" || list.Items[0].KeyIDs[0] != n.KeyIDs[0] {
		t.Fatalf("GET /api/v1/cluster: %+v", list.Items)
	}
	e.do(t, e.a.token, "GET", "/api/v1/cluster", nil).wantError(t, 403, skjold.EFORBIDDEN)

	c, _ := e.operatorConsole(t, skjold.RoleOwner)
	r := c.get(t, "/console/operator/health").want(t, 200)
	wantText(t, r, "Nodes serving this database", "node-a :8443", "https://a.example", "v9", "Up", "0011223344556677")
}
