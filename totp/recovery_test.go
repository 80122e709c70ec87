package totp_test

import (
	"bytes"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/totp"
)

// crockford is the alphabet of recovery codes.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

var recoveryShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestRecoveryCodes(t *testing.T) {
	const n = 10
	codes, hashes, err := totp.TOTP{}.RecoveryCodes(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != n || len(hashes) != n {
		t.Fatalf("got %d codes and %d hashes, want %d of each", len(codes), len(hashes), n)
	}
	seen := map[string]bool{}
	for i, code := range codes {
		if !recoveryShape.MatchString(code) {
			t.Errorf("code %q is not xxxxx-xxxxx in Crockford base32", code)
		}
		if seen[code] {
			t.Errorf("code %q appears twice", code)
		}
		seen[code] = true
		want := sha256.Sum256([]byte(strings.ReplaceAll(code, "-", "")))
		if !bytes.Equal(hashes[i], want[:]) {
			t.Errorf("hash %d is not the SHA-256 of %q without its dash", i, code)
		}
		if !bytes.Equal(hashes[i], totp.TOTP{}.HashRecoveryCode(code)) {
			t.Errorf("hash %d differs from HashRecoveryCode(%q)", i, code)
		}
	}
}

// TestRecoveryCodesUseWholeAlphabet catches a biased or truncated alphabet: in 2,000
// uniform characters each of the 32 is missing with probability about e^-63.
func TestRecoveryCodesUseWholeAlphabet(t *testing.T) {
	codes, _, err := totp.TOTP{}.RecoveryCodes(200)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(codes, "")
	for _, c := range crockford {
		if !strings.ContainsRune(all, c) {
			t.Errorf("no code contains %q", c)
		}
	}
}

func TestRecoveryCodesRefusesCount(t *testing.T) {
	for _, n := range []int{0, -1} {
		_, _, err := totp.TOTP{}.RecoveryCodes(n)
		if code := skjold.ErrorCode(err); code != skjold.EINVALID {
			t.Errorf("RecoveryCodes(%d) error code = %q, want %q", n, code, skjold.EINVALID)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	want := sha256.Sum256([]byte("abcdefghjk"))
	tests := []struct {
		code  string
		match bool
	}{
		{"abcdefghjk", true},
		{"abcde-fghjk", true},
		{"ABCDE-FGHJK", true},
		{" abcde fghjk ", true},
		{"\tAbCdE-\nfGhJk", true},
		{"abcde-fghjj", false},
		{"abcde-fghj", false},
		{"abcde_fghjk", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := totp.TOTP{}.HashRecoveryCode(tt.code)
			if bytes.Equal(got, want[:]) != tt.match {
				t.Errorf("HashRecoveryCode(%q) matches %q: %v, want %v", tt.code, "abcdefghjk", !tt.match, tt.match)
			}
		})
	}
}

// TestHashRecoveryCodeLookalikes: letters left out of the alphabet are read as the digits
// they resemble, as Crockford's base32 decodes them.
func TestHashRecoveryCodeLookalikes(t *testing.T) {
	tests := []struct{ typed, shown string }{
		{"abide-fohjk", "ab1de-f0hjk"},
		{"abLde-fOhjk", "ab1de-f0hjk"},
	}
	for _, tt := range tests {
		got := totp.TOTP{}.HashRecoveryCode(tt.typed)
		if want := (totp.TOTP{}).HashRecoveryCode(tt.shown); !bytes.Equal(got, want) {
			t.Errorf("HashRecoveryCode(%q) differs from HashRecoveryCode(%q)", tt.typed, tt.shown)
		}
	}
	want := sha256.Sum256([]byte("ab1def0hjk"))
	if got := (totp.TOTP{}).HashRecoveryCode("abide-fohjk"); !bytes.Equal(got, want[:]) {
		t.Errorf("HashRecoveryCode(%q) is not the SHA-256 of %q", "abide-fohjk", "ab1def0hjk")
	}
}
