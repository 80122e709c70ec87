package storetest

import (
	"testing"

	"github.com/skjold-project/skjold"
)

// testComplianceDocuments: organisational measures are kept per scope (a tenant's admins for
// the tenant, operator staff for the operator), bad ones change nothing, another tenant's
// cannot be deleted; the facts of a tenant's documents hold its registers and measures, and an
// operator's hold the tenants it serves.
func testComplianceDocuments(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Asysto AS"), e.newTenant("Trainingbot Sp. z o.o.")
	_, adminA := e.adminCtx(a, "admin@asysto.example", skjold.RoleAdmin)
	m := &skjold.OrgMeasure{Kind: skjold.MeasureTraining, Description: "Annual training", Date: "2026-11-20"}
	must(t, e.db.AddOrgMeasure(adminA, m))
	for _, bad := range []*skjold.OrgMeasure{
		{Kind: "party", Description: "x", Date: "2026-11-20"},
		{Kind: skjold.MeasurePhysical, Description: " ", Date: "2026-11-20"},
		{Kind: skjold.MeasurePhysical, Description: "x", Date: "2026-13-01"},
	} {
		if err := e.db.AddOrgMeasure(adminA, bad); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%+v: err = %v, want EINVALID", bad, err)
		}
	}
	must(t, e.db.AddOrgMeasure(e.op, &skjold.OrgMeasure{Kind: skjold.MeasurePhysical, Description: "Locked server room", Date: "2026-03-02"}))
	if err := e.db.DeleteOrgMeasure(e.as(b, ""), m.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("another tenant deletes A's measure: err = %v, want ENOTFOUND", err)
	}
	list, err := e.db.OrgMeasures(adminA)
	must(t, err)
	if len(list) != 1 || list[0].ID != m.ID || list[0].Date != "2026-11-20" {
		t.Fatalf("A's measures = %+v, want the one recorded", list)
	}

	f, err := e.db.DocumentFacts(adminA, "")
	must(t, err)
	if f.Operator || f.Name != "Asysto AS" || len(f.Measures) != 1 || len(f.Categories) == 0 || len(f.Purposes) == 0 ||
		f.Notice == nil || len(f.Checks.Checks) == 0 || f.CheckedAt.IsZero() {
		t.Errorf("A's document facts: %+v", f)
	}
	if _, err := e.db.DocumentFacts(adminA, b.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("A's admin asks for B's facts: err = %v, want ENOTFOUND", err)
	}
	op, err := e.db.DocumentFacts(e.op, "")
	must(t, err)
	if !op.Operator || len(op.Tenants) != 2 || len(op.Measures) != 1 || op.Measures[0].Kind != skjold.MeasurePhysical {
		t.Errorf("the operator's document facts: tenants %d, measures %+v", len(op.Tenants), op.Measures)
	}
	ofB, err := e.db.DocumentFacts(e.op, b.ID)
	must(t, err)
	if ofB.Operator || ofB.Name != b.Name || len(ofB.Measures) != 0 {
		t.Errorf("the operator reading B's facts: %+v", ofB)
	}
	must(t, e.db.DeleteOrgMeasure(adminA, m.ID))
	if list, _ := e.db.OrgMeasures(adminA); len(list) != 0 {
		t.Errorf("after delete: %+v", list)
	}
}
