package totp_test

import (
	"bytes"
	"encoding/base32"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/totp"
)

// rfcSecret is the SHA1 secret of RFC 6238 appendix B, "12345678901234567890", in base32.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// now is a fixed time 10 s into its step, so that ±30 s stays one step away.
var now = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

// codeAt returns the library's code for secret at t with the default parameters.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := pqtotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrol returns a fresh enrolment, failing the test on error.
func enrol(t *testing.T) *skjold.OTPEnrolment {
	t.Helper()
	e, err := totp.TOTP{}.Enrol("Skjold", "ada@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnrolURI(t *testing.T) {
	tests := []struct {
		issuer, account string
	}{
		{"Skjold", "ada@example.org"},
		{"Acme GmbH", "bob+otp@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			e, err := totp.TOTP{}.Enrol(tt.issuer, tt.account)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(e.URI)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Errorf("URI %q is not otpauth://totp/", e.URI)
			}
			if want := "/" + tt.issuer + ":" + tt.account; u.Path != want {
				t.Errorf("URI path = %q, want %q", u.Path, want)
			}
			q := u.Query()
			want := map[string]string{
				"issuer": tt.issuer, "algorithm": "SHA1", "digits": "6", "period": "30", "secret": e.Secret,
			}
			for k, v := range want {
				if got := q.Get(k); got != v {
					t.Errorf("URI %s = %q, want %q", k, got, v)
				}
			}
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
			if err != nil {
				t.Fatalf("secret is not base32: %v", err)
			}
			if len(raw) != 20 {
				t.Errorf("secret has %d bytes, want 20", len(raw))
			}
		})
	}
}

func TestEnrolFreshSecret(t *testing.T) {
	if a, b := enrol(t), enrol(t); a.Secret == b.Secret {
		t.Errorf("two enrolments share the secret %q", a.Secret)
	}
}

func TestEnrolQRCode(t *testing.T) {
	e := enrol(t)
	img, err := png.Decode(bytes.NewReader(e.QRPNG))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("QR code is %d×%d, want 256×256", b.Dx(), b.Dy())
	}
}

func TestEnrolRefusesEmpty(t *testing.T) {
	tests := []struct {
		name, issuer, account string
	}{
		{"no issuer", "", "ada@example.org"},
		{"no account", "Skjold", ""},
		{"blank account", "Skjold", "  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := totp.TOTP{}.Enrol(tt.issuer, tt.account)
			if code := skjold.ErrorCode(err); code != skjold.EINVALID {
				t.Errorf("error code = %q (%v), want %q", code, err, skjold.EINVALID)
			}
		})
	}
}

func TestVerifyWindow(t *testing.T) {
	secret := enrol(t).Secret
	step := now.Unix() / 30
	tests := []struct {
		name     string
		offset   time.Duration // of the code's time from now
		lastStep int64
		wantStep int64
		wantOK   bool
	}{
		{"now", 0, 0, step, true},
		{"previous step", -30 * time.Second, 0, step - 1, true},
		{"next step", 30 * time.Second, 0, step + 1, true},
		{"two steps back", -60 * time.Second, 0, 0, false},
		{"two steps ahead", 60 * time.Second, 0, 0, false},
		{"replay", 0, step, 0, false},
		{"after last step", 0, step - 1, step, true},
		{"before last step", -30 * time.Second, step, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := codeAt(t, secret, now.Add(tt.offset))
			gotStep, ok := totp.TOTP{}.Verify(secret, code, now, tt.lastStep)
			if ok != tt.wantOK || gotStep != tt.wantStep {
				t.Errorf("Verify = (%d, %v), want (%d, %v)", gotStep, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestVerifyPrefersLatestStep(t *testing.T) {
	// With rfcSecret, steps 59061240 and 59061241 share the code 963181, and so do steps
	// 61331809 and 61331811 the code 768734 (found by search; checked below).
	tests := []struct {
		name     string
		code     string
		steps    []int64 // whose code is code
		nowStep  int64
		lastStep int64
		wantStep int64
		wantOK   bool
	}{
		{"now and next", "963181", []int64{59061240, 59061241}, 59061240, 0, 59061241, true},
		{"previous and now", "963181", []int64{59061240, 59061241}, 59061241, 0, 59061241, true},
		{"previous used", "963181", []int64{59061240, 59061241}, 59061241, 59061240, 59061241, true},
		{"previous and next", "768734", []int64{61331809, 61331811}, 61331810, 0, 61331811, true},
		{"next used", "768734", []int64{61331809, 61331811}, 61331810, 61331811, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.steps {
				if got := codeAt(t, rfcSecret, time.Unix(s*30, 0)); got != tt.code {
					t.Fatalf("precondition: code at step %d = %s, want %s", s, got, tt.code)
				}
			}
			at := time.Unix(tt.nowStep*30+5, 0)
			gotStep, ok := totp.TOTP{}.Verify(rfcSecret, tt.code, at, tt.lastStep)
			if ok != tt.wantOK || gotStep != tt.wantStep {
				t.Errorf("Verify = (%d, %v), want (%d, %v)", gotStep, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestVerifyCodeShape(t *testing.T) {
	secret := enrol(t).Secret
	valid := codeAt(t, secret, now)
	fullwidth := strings.Map(func(r rune) rune { return r - '0' + '０' }, valid)
	tests := []struct {
		name string
		code string
		ok   bool
	}{
		{"exact", valid, true},
		{"surrounding spaces", " " + valid + " ", true},
		{"surrounding tab and newline", "\t" + valid + "\n", true},
		{"five digits", valid[:5], false},
		{"seven digits", valid + "0", false},
		{"letters", "abcdef", false},
		{"empty", "", false},
		{"inner space", valid[:3] + " " + valid[3:], false},
		{"sign", "+" + valid[1:], false},
		{"full-width digits", fullwidth, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := (totp.TOTP{}).Verify(secret, tt.code, now, 0); ok != tt.ok {
				t.Errorf("Verify(%q) ok = %v, want %v", tt.code, ok, tt.ok)
			}
		})
	}
}

func TestVerifyRefusesBadSecret(t *testing.T) {
	tests := []string{"", "not base32!", "1"}
	for _, secret := range tests {
		if step, ok := (totp.TOTP{}).Verify(secret, "123456", now, 0); ok {
			t.Errorf("Verify with secret %q = (%d, true), want refused", secret, step)
		}
	}
}

// TestRFC6238 checks the parameters against the SHA1 test vectors of RFC 6238 appendix B:
// the library's 8-digit codes must match the RFC, and Verify must accept their last six
// digits at that time and return the step T/30.
func TestRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		want string // eight digits, as in the RFC
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			got, err := pqtotp.GenerateCodeCustom(rfcSecret, at, pqtotp.ValidateOpts{
				Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("8-digit code = %s, want %s", got, tt.want)
			}
			step, ok := totp.TOTP{}.Verify(rfcSecret, tt.want[2:], at, 0)
			if !ok || step != tt.unix/30 {
				t.Errorf("Verify(%s) = (%d, %v), want (%d, true)", tt.want[2:], step, ok, tt.unix/30)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	for _, seed := range []string{"", "123456", " 287082 ", "12345", "1234567", "abcdef", "１２３４５６", "\x00\xff"} {
		f.Add(seed)
	}
	at := time.Unix(59, 0) // step 1, whose code is 287082
	f.Fuzz(func(t *testing.T, code string) {
		step, ok := totp.TOTP{}.Verify(rfcSecret, code, at, 0)
		if !ok {
			return
		}
		// Only the codes of steps 1 and 2 can pass (step 0 is not after lastStep 0).
		trimmed := strings.TrimSpace(code)
		if step != 1 && step != 2 {
			t.Fatalf("Verify(%q) matched step %d, outside the window", code, step)
		}
		if want := codeAt(t, rfcSecret, time.Unix(step*30, 0)); trimmed != want {
			t.Fatalf("Verify(%q) matched step %d, whose code is %s", code, step, want)
		}
	})
}
