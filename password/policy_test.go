package password

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// wantFieldError fails the test unless err is an EINVALID error for field "password" with rule.
func wantFieldError(t *testing.T, err error, rule string) {
	t.Helper()
	var e *skjold.Error
	if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != "password" || e.Rule != rule {
		t.Fatalf("error %#v, want EINVALID for field \"password\", rule %q", err, rule)
	}
}

func TestCheckPassword(t *testing.T) {
	def := skjold.DefaultPasswordPolicy()
	with := func(change func(*skjold.PasswordPolicy)) skjold.PasswordPolicy {
		p := def
		change(&p)
		return p
	}
	twoClasses := with(func(p *skjold.PasswordPolicy) { p.Classes = 2 })
	email := []string{"Anna Maria Schmidt", "anna-maria.schmidt+news@example.org"}
	leet := "4@8({[<3&69!|1l7+0$5%2xQ"
	tests := []struct {
		name     string
		policy   skjold.PasswordPolicy
		password string
		personal []string
		rule     string // "" when accepted
	}{
		{"passphrase", def, "Correct horse battery staple 7", email, ""},
		{"lower-case passphrase, two classes", twoClasses, "correct horse battery staple", email, ""},
		{"random, exactly the minimum", def, "Xk9#mPq2$vLw", nil, ""},
		{"unicode passphrase", def, "Grüne Äpfel fallen 42 Mal", nil, ""},
		{"longest", def, strings.Repeat(leet, 11)[:skjold.MaxPasswordLength], nil, ""},
		{"short pieces ignored", def, "Lively Wulf, 42 orbit lanes", []string{"Li Wu", "li.wu@example.org"}, ""},
		{"no personal words", def, "Correct horse battery staple 7", nil, ""},

		{"under the minimum", def, "Xk9#mPq2$vL", nil, "length"},
		{"under a larger minimum", with(func(p *skjold.PasswordPolicy) { p.MinLength = 20 }), "Correct horse bat 7", nil, "length"},
		{"under the floor of a zero policy", skjold.PasswordPolicy{}, "Xk9#mPq", nil, "length"},
		{"over the maximum", def, strings.Repeat("é", skjold.MaxPasswordLength+1), nil, "length"},
		{"two classes under three", def, "correct horse battery staple", nil, "classes"},
		{"one class under two", twoClasses, "correcthorsebatterystaple", nil, "classes"},
		{"three classes under four", with(func(p *skjold.PasswordPolicy) { p.Classes = 4 }), "Correct horse battery staple", nil, "classes"},
		{"name", def, "Quiet Maria lanterns 42", email, "personal"},
		{"name, other case", def, "Quiet SCHMIDT lanterns 42", email, "personal"},
		{"e-mail local part", def, "Quiet-anna-maria.schmidt+news-42", email, "personal"},
		{"piece of the local part", def, "Jdoe lanterns quietly 42", []string{"j.doe-jdoe@example.org"}, "personal"},
		{"whole e-mail", def, "Xk9#JD@X.ORG#mPq2", []string{"jd@x.org"}, "personal"},
		{"common", def, "Password123!", nil, "common"},
		{"keyboard walk", def, "Qwertyuiop123!", nil, "common"},
		{"l33t", def, "P@ssw0rd2024!", nil, "common"},
		{"repeated", def, "Aa1!Aa1!Aa1!Aa1!", nil, "common"},
		{"guessable start of a long one", def, strings.Repeat("password", 8) + "Xk9#mPq2$vLw", nil, "common"},
	}
	c := NewChecker(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckPassword(context.Background(), tt.policy, tt.password, tt.personal)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantFieldError(t, err, tt.rule)
			wantNoSecret(t, err, tt.password, tt.personal)
		})
	}
}

// wantNoSecret fails the test when err's message repeats the password or a personal word.
func wantNoSecret(t *testing.T, err error, password string, personal []string) {
	t.Helper()
	msg := strings.ToLower(skjold.ErrorMessage(err) + err.Error())
	for _, secret := range append(personalWords(personal), strings.ToLower(password)) {
		if strings.Contains(msg, secret) {
			t.Errorf("message %q repeats %q", msg, secret)
		}
	}
}

func TestCountClasses(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 1},
		{"ABC", 1},
		{"123", 1},
		{" !日本", 1}, // letters without case are "other"
		{"aB", 2},
		{"aB1", 3},
		{"aB1!", 4},
		{"äÖ٣ ", 4}, // Arabic-Indic digit three
		{"ǅ", 1},    // title case counts as upper
		{"ǅa", 2},
	}
	for _, tt := range tests {
		if got := countClasses(tt.s); got != tt.want {
			t.Errorf("countClasses(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestPersonalWords(t *testing.T) {
	tests := []struct {
		personal []string
		want     []string
	}{
		{nil, nil},
		{[]string{"", "  ", "Li", "Wu"}, nil},
		{[]string{" Anna-Maria  Schmidt "}, []string{"anna", "anna-maria  schmidt", "maria", "schmidt"}},
		{[]string{"J.Doe+tag_x@Example.org"}, []string{"doe", "j.doe+tag_x", "j.doe+tag_x@example.org", "tag"}},
		{[]string{"jo", "jo@example.org"}, []string{"jo@example.org"}},
		{[]string{"Ævar", "ævar"}, []string{"ævar"}},
	}
	for _, tt := range tests {
		if got := personalWords(tt.personal); !slices.Equal(got, tt.want) {
			t.Errorf("personalWords(%q) = %q, want %q", tt.personal, got, tt.want)
		}
	}
}

func TestCheckPasswordBreach(t *testing.T) {
	const breached = "Correct horse battery staple 7" // strong, but the fake corpus knows it
	srv := newRangeServer(t, func(prefix string) string {
		return rangeBody(breached, prefix, 42)
	})
	on := skjold.DefaultPasswordPolicy()
	on.BreachCheck = true
	ctx := context.Background()

	c := NewChecker(NewBreachChecker(srv.URL, srv.Client()))
	wantFieldError(t, c.CheckPassword(ctx, on, breached, nil), "breached")
	if err := c.CheckPassword(ctx, on, "Quiet lanterns glow 42 times", nil); err != nil {
		t.Errorf("password not in the corpus refused: %v", err)
	}
	n := len(srv.requests())
	if err := c.CheckPassword(ctx, skjold.DefaultPasswordPolicy(), breached, nil); err != nil {
		t.Errorf("breach check off: %v", err)
	}
	if err := c.CheckPassword(ctx, on, "Password123!", nil); err == nil {
		t.Errorf("common password accepted")
	}
	if len(srv.requests()) != n {
		t.Errorf("the range API was asked with the breach check off or after a refusal")
	}
	if err := NewChecker(nil).CheckPassword(ctx, on, breached, nil); err != nil {
		t.Errorf("no BreachChecker configured: %v", err)
	}

	srv.Close()
	wantCode(t, c.CheckPassword(ctx, on, breached, nil), skjold.EUNAVAILABLE)
}

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"Correct horse battery staple 7", "Password123!", "P@ssw0rd", "日本語のパスワード12", "\xff\xfe\x00abc"} {
		f.Add(s, "anna.schmidt@example.org")
	}
	policy := skjold.DefaultPasswordPolicy()
	rules := []string{"length", "classes", "personal", "common"}
	c := NewChecker(nil)
	f.Fuzz(func(t *testing.T, password, personal string) {
		err := c.CheckPassword(context.Background(), policy, password, []string{personal})
		var e *skjold.Error
		if err != nil && (!errors.As(err, &e) || e.Field != "password" || !slices.Contains(rules, e.Rule)) {
			t.Errorf("CheckPassword(%q, %q) = %#v", password, personal, err)
		}
	})
}

func BenchmarkCheckPassword(b *testing.B) {
	c := NewChecker(nil)
	policy := skjold.DefaultPasswordPolicy()
	for b.Loop() {
		if err := c.CheckPassword(context.Background(), policy, "Correct horse battery staple 7", []string{"anna@example.org"}); err != nil {
			b.Fatal(err)
		}
	}
}
