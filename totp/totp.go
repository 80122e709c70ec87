// Package totp implements skjold.OTP: time-based one-time passwords (RFC 6238) through
// github.com/pquerna/otp, and single-use recovery codes.
package totp

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/skjold-project/skjold"
)

// The parameters every authenticator app understands (RFC 6238's defaults, and the only
// ones Google Authenticator honours): HMAC-SHA1, six digits, 30-second steps, and a
// 160-bit secret as RFC 4226 recommends.
const (
	period     = 30
	digits     = otp.DigitsSix
	algorithm  = otp.AlgorithmSHA1
	secretSize = 20
	qrSize     = 256 // pixels, width and height
	skew       = 1   // steps accepted either side of now
)

// maxStep bounds the steps Verify computes: the library derives the step from a time with
// float64 arithmetic, which is exact only below 2^53 seconds. No real clock gets there.
const maxStep = (1 << 53) / period

// TOTP is the skjold.OTP of the server. Its zero value is ready to use.
type TOTP struct{}

var _ skjold.OTP = TOTP{}

// Enrol makes a fresh 20-byte secret for account under issuer and returns it base32-encoded,
// as an otpauth:// URI and as a 256×256 PNG QR code of that URI. An empty issuer or account
// is an EINVALID error; any other error is internal.
func (TOTP) Enrol(issuer, account string) (*skjold.OTPEnrolment, error) {
	if strings.TrimSpace(issuer) == "" || strings.TrimSpace(account) == "" {
		return nil, skjold.Errorf(skjold.EINVALID, "an issuer and an account are required")
	}
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      period,
		SecretSize:  secretSize,
		Digits:      digits,
		Algorithm:   algorithm,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: generate key: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: encode QR code: %w", err)
	}
	return &skjold.OTPEnrolment{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// Verify reports whether code is the code of secret for the time step of now, the one before
// or the one after, and returns the step it matched (Unix time / 30). Steps not after
// lastStep are not considered, so a code is accepted at most once. When a code matches two
// steps, the later one is returned, so that neither can be used again. Surrounding spaces
// are ignored; anything but exactly six ASCII digits is refused before any computing, as is
// an invalid secret.
func (TOTP) Verify(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if !wellFormed(code) {
		return 0, false
	}
	current := floorDiv(now.Unix(), period)
	var matched int64
	ok := false
	for step := current - skew; step <= current+skew; step++ {
		if step <= lastStep || step < 0 || step > maxStep {
			continue
		}
		want, err := pqtotp.GenerateCodeCustom(secret, time.Unix(step*period, 0), pqtotp.ValidateOpts{
			Period:    period,
			Digits:    digits,
			Algorithm: algorithm,
		})
		if err != nil {
			return 0, false
		}
		// Every candidate is computed and compared, in constant time, so the time taken
		// tells nothing about which step (if any) matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched, ok = step, true
		}
	}
	return matched, ok
}

// wellFormed reports whether code is exactly six ASCII digits.
func wellFormed(code string) bool {
	if len(code) != digits.Length() {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// floorDiv returns a/b rounded towards minus infinity, so that times before 1970 do not
// share step 0 with the first 30 seconds after.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
