package store

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
)

// CreateSubjects writes a batch as CreateSubject writes each (found by e-mail, audited), and
// a batch with one refused subject writes nothing.
func TestCreateSubjects(t *testing.T) {
	dir := t.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), filepath.Join(dir, "skjold.db"), Options{Keys: keys.NewService(ring), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	op := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "test", Operator: true, Source: "127.0.0.1"})
	tn := &skjold.Tenant{Name: "Bulk AS"}
	if _, err := db.CreateTenant(op, tn); err != nil {
		t.Fatal(err)
	}
	ctx := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:t", TenantID: tn.ID, Scopes: skjold.AllScopes, Source: "127.0.0.1"})
	count := func() int {
		var n int
		if err := db.queryRow(ctx, "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", tn.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	bad := []*skjold.Subject{{Ref: "B-1", Name: "Bo Bulk"}, {Ref: "B-2", Email: "not an address"}}
	if err := db.CreateSubjects(ctx, bad); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Fatalf("a batch with a bad e-mail: %v, want EINVALID", err)
	}
	dup := []*skjold.Subject{{Ref: "D-1", Name: "Di Dup"}, {Ref: "D-1", Name: "Di Dup"}}
	if err := db.CreateSubjects(ctx, dup); skjold.ErrorCode(err) != skjold.ECONFLICT {
		t.Fatalf("a batch with a ref twice: %v, want ECONFLICT", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("refused batches wrote %d subjects", n)
	}
	good := []*skjold.Subject{{Ref: "G-1", Name: "Guro Bulk", Email: "guro@example.com"}, {Ref: "G-2", Name: "Geir Bulk", Phone: "+47 912 34 567"}}
	if err := db.CreateSubjects(ctx, good); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d subjects written, want 2", n)
	}
	found, err := db.FindSubjects(ctx, skjold.SubjectFilter{Email: "Guro@example.com"})
	if err != nil || len(found) != 1 || found[0].ID != good[0].ID || found[0].Name != "Guro Bulk" {
		t.Fatalf("find by e-mail: %+v, %v", found, err)
	}
	var events int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM audit_events WHERE action = 'subject.create'").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 2 {
		t.Errorf("%d subject.create events, want 2", events)
	}
}
