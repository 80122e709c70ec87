package main

import (
	"log/slog"
	"strings"
	"testing"
)

// alert_language takes one of Skjold's languages; another is refused at start.
func TestAlertLanguage(t *testing.T) {
	for lang, ok := range map[string]bool{"": true, "en": true, "nb": true, "pl": true, "de": false, "NB": false} {
		_, err := newAlerts(Config{AlertEmail: "ops@example.com", AlertLanguage: lang}, nil, slog.New(slog.DiscardHandler))
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "alert_language")) {
			t.Errorf("alert_language %q: %v", lang, err)
		}
	}
}
