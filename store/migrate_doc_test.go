package store

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestStolenDatabaseDocumented holds the README's security model to the schema: its account
// of what a stolen database reveals names every table of both engines, so that a new table
// (and what it leaves in clear text) cannot go undocumented.
func TestStolenDatabaseDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "**What a stolen database reveals**")
	section, _, _ = strings.Cut(section, "**What it does not protect.**")
	if !ok {
		t.Fatal("the README's security model has no \"What a stolen database reveals\" paragraph")
	}
	created := regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)`)
	for _, engine := range []string{SQLite, Postgres} {
		ms, err := loadMigrations(engine)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, match := range created.FindAllStringSubmatch(m.sql, -1) {
				if table := match[1]; !strings.Contains(section, "`"+table+"`") {
					t.Errorf("%s %s creates table %s, which the README's account of a stolen database does not name",
						engine, m.name, table)
				}
			}
		}
	}
	// The clear-text columns the review found must be named as such.
	for _, what := range []string{"`retain_from`", "e-mail address and name", "`guardian_id`"} {
		if !strings.Contains(section, what) {
			t.Errorf("the README's account of a stolen database does not mention %s", what)
		}
	}
}
