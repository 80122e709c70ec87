package main

import (
	"testing"
)

// TestResetLinkOpensConsole checks that the e-mailed reset link points at the console's
// reset page with the code in the fragment, which browsers never send to a server (it used
// to point at /reset, which answered 404).
func TestResetLinkOpensConsole(t *testing.T) {
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	cfg.PublicURL = "https://skjold.example.com"
	opts, err := authOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://skjold.example.com/console/reset#token="; opts.ResetURL != want {
		t.Errorf("reset links start %q, want %q", opts.ResetURL, want)
	}
}
