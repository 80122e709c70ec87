package document

import "testing"

func TestDataVersionFollowsTheFacts(t *testing.T) {
	a, err := DataVersion(map[string]any{"purposes": []string{"booking"}, "retention_days": 30})
	if err != nil {
		t.Fatal(err)
	}
	same, _ := DataVersion(map[string]any{"retention_days": 30, "purposes": []string{"booking"}})
	changed, _ := DataVersion(map[string]any{"purposes": []string{"booking"}, "retention_days": 31})
	if len(a) != 12 || a != same {
		t.Fatalf("the same facts gave %q and %q", a, same)
	}
	if a == changed {
		t.Fatalf("a changed retention period kept version %q", a)
	}
	if _, err := DataVersion(func() {}); err == nil {
		t.Fatal("facts that cannot be encoded gave a version")
	}
}
