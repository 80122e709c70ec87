package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"math/big"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// One-time codes that verify a requester's identity [C8]: 8 random digits, sent to the
// subject's e-mail address on file, valid for 30 minutes and maxCodeAttempts guesses, and
// at most maxCodesPerRequest of them per request.
const (
	codeDigits         = 8
	codeLifetime       = 30 * time.Minute
	maxCodeAttempts    = 5
	maxCodesPerRequest = 3
)

// newCode returns a fresh one-time code and its SHA-256.
func newCode() (string, []byte) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	code := fmt.Sprintf("%0*d", codeDigits, n)
	return code, hashSecret(code)
}

// validCode reports whether s has the form of a one-time code.
func validCode(s string) bool {
	if len(s) != codeDigits {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// tenantName returns the tenant's name, which the subject's e-mails name as the sender.
func (db *DB) tenantName(ctx context.Context, tenantID string) (string, error) {
	var name string
	err := db.queryRow(ctx, "SELECT name FROM tenants WHERE id = ?", tenantID).Scan(&name)
	return name, err
}

// sendCode e-mails a one-time code. The mail names the tenant and the request type, and
// nothing else about the subject.
func (db *DB) sendCode(ctx context.Context, tenantID string, r *skjold.Request, to, code string) error {
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return err
	}
	cat := i18n.Mail(db.requestMailLanguage(ctx, tenantID, r.ID))
	body := mailBody(cat.T("mail.code.intro", "tenant", name, "request", cat.T("mail.request."+r.Type)),
		cat.T("mail.code.give", "tenant", name, "minutes", int(codeLifetime/time.Minute)), code,
		cat.T("mail.code.request", "id", r.ID), cat.T("mail.code.warn", "tenant", name))
	return db.mailInBackground(ctx, skjold.Message{To: to, Subject: cat.T("mail.code.subject", "tenant", name), Body: body,
		TenantID: tenantID, SubjectID: r.SubjectID})
}

// mailInBackground sends m without making the caller wait for the relay, with at most
// maxResetsInFlight sends at once (shared with reset e-mails). A failed send is logged
// without the address; the request stays as it is and a code can be sent again.
func (db *DB) mailInBackground(ctx context.Context, m skjold.Message) error {
	select {
	case db.resetSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	db.bg.Add(1)
	go func() {
		defer func() { <-db.resetSlots; db.bg.Done() }()
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.auth.Mailer.Send(sctx, m); err != nil {
			db.log.Error("request e-mail not sent", "err", err) // no address: it is personal data
		}
	}()
	return nil
}

// errWrongCode is the answer to a wrong code, and to a code for an unknown request or one
// that has none in force: the public verify route tells nothing more without the code.
var errWrongCode = &skjold.Error{Code: skjold.EINVALID, Message: "the code is wrong or no longer valid", Field: "code", Rule: "wrong"}

// VerifyRequest checks a requester's one-time code inside one write, so that concurrent
// guesses are counted one after the other. A right code verifies the request once; the
// fifth wrong one voids the code (ETOOMANY); a right but expired code is refused with
// ECONFLICT and voided.
func (db *DB) VerifyRequest(ctx context.Context, id, code string) (*skjold.Request, error) {
	if !skjold.ValidID(id) { // no request has such an id: this tells nothing about any
		return nil, errRequestNotFound()
	}
	if !validCode(code) {
		return nil, skjold.FieldError("code", "format", "code must be %d digits", codeDigits)
	}
	now := db.now()
	var answer error
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		answer, err = tx.checkCode(id, code, now, sourceOf(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	if answer != nil {
		return nil, answer
	}
	r, err := scanRequest(db.queryRow(ctx, selectRequests+" WHERE id = ?", id))
	if err != nil {
		return nil, err
	}
	return r.withOverdue(now), nil
}

// checkCode does VerifyRequest's work in the write: it returns the answer for the requester
// (nil when verified) and, separately, a failure of the write itself.
func (tx *Tx) checkCode(id, code string, now time.Time, source string) (answer, err error) {
	var tenantID, subjectID, status string
	var hash []byte
	var expires sql.NullInt64
	var attempts int
	err = tx.queryRow(`SELECT tenant_id, subject_id, status, code_hash, code_expires_at, code_attempts FROM requests
		WHERE id = ? AND closed_at IS NULL AND verified_at IS NULL`, id).Scan(&tenantID, &subjectID, &status, &hash, &expires, &attempts)
	if err == sql.ErrNoRows {
		return errWrongCode, nil
	} else if err != nil {
		return nil, err
	}
	c := &skjold.Caller{Actor: "request:" + id, TenantID: tenantID, Source: source}
	switch {
	case hash == nil && attempts >= maxCodeAttempts:
		return errCodeVoid, nil
	case hash == nil:
		return errWrongCode, nil
	case subtle.ConstantTimeCompare(hashSecret(code), hash) != 1:
		attempts++
		answer = errWrongCode
		if attempts >= maxCodeAttempts {
			answer, hash = errCodeVoid, nil
		}
		tx.audit(event(c, "request.verify_failed", subjectID, "", []string{"reason:wrong_code"}))
		_, err = tx.exec("UPDATE requests SET code_hash = ?, code_attempts = ? WHERE id = ?", hash, attempts, id)
		return answer, err
	case !now.Before(fromMicros(expires.Int64)):
		tx.audit(event(c, "request.verify_failed", subjectID, "", []string{"reason:expired"}))
		_, err = tx.exec("UPDATE requests SET code_hash = NULL WHERE id = ?", id)
		return skjold.Errorf(skjold.ECONFLICT, "this code has expired: ask for a new one"), err
	}
	if status == skjold.StatusAwaitingVerification || status == skjold.StatusReceived {
		status = skjold.StatusInProgress
	}
	tx.audit(event(c, "request.verify", subjectID, "", nil))
	_, err = tx.exec(`UPDATE requests SET status = ?, verified_at = ?, code_hash = NULL, code_expires_at = NULL
		WHERE id = ?`, status, micros(now), id)
	return nil, err
}

var errCodeVoid = skjold.Errorf(skjold.ETOOMANY, "too many wrong codes: this code no longer works; ask for a new one")

// ResendCode replaces the request's one-time code with a fresh one, at most
// maxCodesPerRequest codes per request, and e-mails it.
func (db *DB) ResendCode(ctx context.Context, id string) error {
	c, err := requestCaller(ctx, skjold.ScopeWrite)
	if err != nil {
		return err
	}
	r, err := db.tenantRequest(ctx, c.TenantID, id)
	if err != nil {
		return err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return err
	}
	sub, _, err := db.subjectProfile(ctx, c.TenantID, tk, r.SubjectID)
	if err != nil {
		return err
	}
	if !db.canSendCode(sub) {
		return skjold.Errorf(skjold.ECONFLICT, "the subject has no e-mail address or phone number on file any more: the code cannot be sent")
	}
	code, hash := newCode()
	err = db.write(ctx, func(tx *Tx) error {
		var sent int
		err := tx.queryRow("SELECT codes_sent FROM requests WHERE id = ? AND closed_at IS NULL AND verified_at IS NULL", id).Scan(&sent)
		if err == sql.ErrNoRows {
			return skjold.Errorf(skjold.ECONFLICT, "only an open request that is not verified yet gets a new code")
		} else if err != nil {
			return err
		}
		if sent >= maxCodesPerRequest {
			return skjold.Errorf(skjold.ETOOMANY, "this request has had %d codes already: verify the requester another way or refuse the request", maxCodesPerRequest)
		}
		tx.audit(event(c, "request.resend", r.SubjectID, "", nil))
		_, err = tx.exec(`UPDATE requests SET code_hash = ?, code_expires_at = ?, code_attempts = 0, codes_sent = codes_sent + 1
			WHERE id = ?`, hash, micros(db.now().Add(codeLifetime)), id)
		return err
	})
	if err != nil {
		return err
	}
	return db.sendCodeTo(ctx, c.TenantID, &r.Request, sub, code)
}
