package totp

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/skjold-project/skjold"
)

// alphabet is Crockford's base32 in lower case: digits and letters without i, l, o and u,
// so that no two characters are easily mistaken for each other when read or typed.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryLen is the number of characters in a recovery code, without the dash:
// 10 × 5 = 50 random bits.
const recoveryLen = 10

// RecoveryCodes returns n distinct fresh recovery codes, shown as "xxxxx-xxxxx", and their
// hashes (HashRecoveryCode of each), in the same order. n below 1 is an EINVALID error; a
// failure of the random source is internal.
func (TOTP) RecoveryCodes(n int) ([]string, [][]byte, error) {
	return recoveryCodes(rand.Reader, n)
}

// recoveryCodes is RecoveryCodes reading its randomness from r.
func recoveryCodes(r io.Reader, n int) ([]string, [][]byte, error) {
	if n < 1 {
		return nil, nil, skjold.Errorf(skjold.EINVALID, "the number of recovery codes must be positive")
	}
	codes := make([]string, 0, n)
	hashes := make([][]byte, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		code, err := newRecoveryCode(r)
		if err != nil {
			return nil, nil, err
		}
		if seen[code] {
			continue // a 2^-50 chance, but duplicates would make one code worthless
		}
		seen[code] = true
		codes = append(codes, code)
		hashes = append(hashes, TOTP{}.HashRecoveryCode(code))
	}
	return codes, hashes, nil
}

// newRecoveryCode returns one code of recoveryLen characters from alphabet, read from r,
// with a dash in the middle.
func newRecoveryCode(r io.Reader) (string, error) {
	var b [recoveryLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("totp: recovery code: %w", err)
	}
	var s strings.Builder
	for i, c := range b {
		if i == recoveryLen/2 {
			s.WriteByte('-')
		}
		// 256 is a multiple of 32, so the low five bits are uniform.
		s.WriteByte(alphabet[c%uint8(len(alphabet))])
	}
	return s.String(), nil
}

// HashRecoveryCode returns the SHA-256 of code normalised: lower case, without spaces or
// dashes, and with the letters Crockford's base32 leaves out read as the digits they
// resemble (i and l as 1, o as 0). RecoveryCodes stores the same hash.
//
// A fast hash suffices here, unlike for passwords: a code carries 50 random bits, not a
// human choice, so there is no dictionary to try first and whoever holds the stored hashes
// must search 2^50 candidates; a code found that way still needs the user's password and
// works once; and guessing online is bounded by the login rate limit long before that.
func (TOTP) HashRecoveryCode(code string) []byte {
	sum := sha256.Sum256([]byte(normalise(code)))
	return sum[:]
}

// normalise returns code as RecoveryCodes makes it, without the dash.
func normalise(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || unicode.IsSpace(r):
			return -1
		case r == 'i' || r == 'I' || r == 'l' || r == 'L':
			return '1'
		case r == 'o' || r == 'O':
			return '0'
		}
		return unicode.ToLower(r)
	}, code)
}
