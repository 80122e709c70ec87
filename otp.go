package skjold

import "time"

// OTPEnrolment is what a user needs to add a TOTP secret to an authenticator app.
type OTPEnrolment struct {
	Secret string // base32, shown once; stored only sealed
	URI    string // otpauth://totp/… for the app
	QRPNG  []byte // the URI as a QR code image
}

// OTP implements time-based one-time passwords (RFC 6238) and recovery codes [B6].
type OTP interface {
	// Enrol makes a fresh secret for account (the user's e-mail) under the issuer name.
	Enrol(issuer, account string) (*OTPEnrolment, error)

	// Verify reports whether code is valid for secret at now, allowing one time step of
	// clock skew either way, and returns the time step it matched. A code whose step is not
	// after lastStep is refused, so that each code is accepted at most once (replay).
	Verify(secret, code string, now time.Time, lastStep int64) (step int64, ok bool)

	// RecoveryCodes returns n fresh single-use recovery codes, to show once, and their
	// hashes, to store.
	RecoveryCodes(n int) (codes []string, hashes [][]byte, err error)

	// HashRecoveryCode returns the stored form of a code as a user types it (case, spaces
	// and dashes do not matter).
	HashRecoveryCode(code string) []byte
}
