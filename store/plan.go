package store

import "github.com/skjold-project/skjold"

// hotQuery is a query that a request runs against a tenant's subjects, records, audit events
// or requests, with the index each engine must answer it from. The plan test (plan_test.go)
// asks both engines how they would run every one and fails, naming it, on a walk of a table
// or on any other index: a query here grows with its answer, never with the tenant.
type hotQuery struct {
	q     string
	index string // the index that answers the query; "pk:<table>" for the table's primary key
}

// hotQueries names every query on a request path, by name. Register a new one with hot.
var hotQueries = map[string]hotQuery{}

// hot registers q under name and returns it, so that the code runs the very text the plan
// test explains.
func hot(name, index, q string) string {
	if _, dup := hotQueries[name]; dup {
		panic("store: hot query " + name + " registered twice")
	}
	hotQueries[name] = hotQuery{q: q, index: index}
	return q
}

// Subject look-ups. Each filter has its own fixed text, so that the plan of each is known.
var (
	qSubjectByID       = hot("subject.by_id", "pk:subjects", selectSubjects+" WHERE id = ? AND tenant_id = ?")
	qSubjectExists     = hot("subject.exists", "pk:subjects", "SELECT 1 FROM subjects WHERE id = ? AND tenant_id = ?")
	qSubjectWrappedKey = hot("subject.wrapped_key", "pk:subjects", "SELECT wrapped_key FROM subjects WHERE id = ? AND tenant_id = ?")
	qSubjectsPage      = hot("subjects.page", "subjects_tenant", selectSubjects+" WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?")
	qSubjectsByEmail   = hot("subjects.by_email", "subjects_email",
		selectSubjects+" WHERE tenant_id = ? AND email_idx = ? AND id > ? ORDER BY id LIMIT ?")
	qSubjectsByPhone = hot("subjects.by_phone", "subjects_phone",
		selectSubjects+" WHERE tenant_id = ? AND phone_idx = ? AND id > ? ORDER BY id LIMIT ?")
	// A ref is unique in its tenant: at most one row, so no order, and the unique index
	// answers it (with ORDER BY id PostgreSQL would rather walk subjects_tenant in order).
	qSubjectsByRef = hot("subjects.by_ref", "subjects_ref",
		selectSubjects+" WHERE tenant_id = ? AND ref_idx = ? AND id > ? LIMIT ?")
)

// Records.
var (
	qRecordByID        = hot("record.by_id", "pk:records", selectRecords+" WHERE r.id = ? AND r.tenant_id = ?")
	qRecordsBySubject  = hot("records.by_subject", "records_subject", selectRecords+" WHERE r.subject_id = ? AND r.tenant_id = ? AND r.id > ? ORDER BY r.id LIMIT ?")
	qRecordsByCategory = hot("records.by_subject_category", "records_subject_category",
		selectRecords+" WHERE r.subject_id = ? AND r.tenant_id = ? AND r.id > ? AND r.category = ? ORDER BY r.id LIMIT ?")
)

// Requests.
var (
	qRequestByID  = hot("request.by_id", "pk:requests", selectRequests+" WHERE id = ? AND tenant_id = ?")
	qRequestsPage = hot("requests.page", "requests_tenant", selectRequests+" WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?")
)

// The audit trail as a tenant reads it: the queries auditQuery builds for the common filters.
func init() {
	for _, a := range []struct {
		name, index string
		f           skjold.AuditFilter
	}{
		{"audit.page", "audit_tenant", skjold.AuditFilter{}},
		{"audit.newest", "audit_tenant", skjold.AuditFilter{Newest: true}},
		{"audit.by_subject", "audit_tenant_subject", skjold.AuditFilter{SubjectID: "s"}},
		{"audit.by_subject_newest", "audit_tenant_subject", skjold.AuditFilter{SubjectID: "s", Newest: true}},
		{"audit.by_actor", "audit_tenant_actor", skjold.AuditFilter{Actor: "a"}},
		{"audit.by_actor_newest", "audit_tenant_actor", skjold.AuditFilter{Actor: "a", Newest: true}},
		{"audit.by_action", "audit_tenant_action", skjold.AuditFilter{Action: "subject.read"}},
		{"audit.by_action_newest", "audit_tenant_action", skjold.AuditFilter{Action: "subject.read", Newest: true}},
	} {
		q, _ := auditQuery(&skjold.Caller{TenantID: "t"}, a.f)
		hot(a.name, a.index, q)
	}
}
