package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The subject's own view on the privacy center: a login by one-time code, sent like a
// request's code to the e-mail address on file (never to one typed on the page), which opens
// a short session; and the subject's access list, read from the audit chain. What the
// session shows and changes goes through the services the API uses, with the subject as
// the caller (SubjectSession).

var _ skjold.SubjectSelfService = (*DB)(nil)

const (
	selfPrefix = "skjold_me_"
	// loginCodeLifetime is how long a login code works: a login is meant to follow at once.
	loginCodeLifetime = 15 * time.Minute
	// maxLoginsPerSubject codes are sent to one subject per loginWindow at most; beyond
	// that the answer is the same but no code goes out.
	maxLoginsPerSubject = 5
	loginWindow         = time.Hour
	// loginRowsKept: older login rows are deleted when a login starts.
	loginRowsKept = 24 * time.Hour
)

// StartSubjectLogin finds the subject and sends a code to what is on file: by e-mail, or by SMS
// to a subject with only a phone number when an SMS sender is configured; or it does the same
// work for nothing.
func (db *DB) StartSubjectLogin(ctx context.Context, tenantID string, who skjold.SubjectLookup, lang string) (string, error) {
	if !i18n.Supported(lang) {
		return "", skjold.FieldError("language", "language", "language must be one of %v", skjold.Languages)
	}
	if who.Ref != "" || (who.Email == "") == (who.Phone == "") {
		return "", skjold.FieldError("email", "required", "give exactly one of an e-mail address or a phone number")
	}
	kind, value := skjold.LookupEmail, who.Email
	if who.Phone != "" {
		kind, value = skjold.LookupPhone, who.Phone
	}
	if !skjold.ValidLookup(value) || (kind == skjold.LookupEmail && !strings.Contains(value, "@")) {
		return "", skjold.FieldError(kind, "lookup", "%s is not a valid address", kind)
	}
	if db.auth.Mailer == nil {
		return "", skjold.Errorf(skjold.EINTERNAL, "e-mail is not configured on this store: logins cannot be verified")
	}
	tk, err := db.tenantKey(ctx, tenantID)
	if err != nil {
		return "", err
	}
	sub, err := db.lookupSubject(ctx, tenantID, tk, who)
	switch {
	case skjold.ErrorCode(err) == skjold.ENOTFOUND || skjold.ErrorCode(err) == skjold.ECONFLICT:
		sub = &skjold.Subject{ID: newID()} // no one: the work below is done for nothing
	case err != nil:
		return "", err
	}
	now := db.now().UTC()
	code, hash := newCode()
	id := newID()
	var recent int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM subject_logins WHERE tenant_id = ? AND subject_id = ? AND created_at > ?",
		tenantID, sub.ID, micros(now.Add(-loginWindow))).Scan(&recent); err != nil {
		return "", err
	}
	send := db.canSendCode(sub) && recent < maxLoginsPerSubject
	err = db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("DELETE FROM subject_logins WHERE tenant_id = ? AND created_at < ?", tenantID,
			micros(now.Add(-loginRowsKept))); err != nil {
			return err
		}
		if !send {
			// the same statement, matching no row: the write commits as a real one does
			_, err := tx.exec("UPDATE subject_logins SET code_hash = ? WHERE id = ? AND tenant_id = ?", hash, id, tenantID)
			return err
		}
		c := &skjold.Caller{Actor: skjold.SubjectActorPrefix + sub.ID, TenantID: tenantID, Source: sourceOf(ctx)}
		tx.audit(event(c, "subject.login_code", sub.ID, "", nil))
		_, err := tx.exec(`INSERT INTO subject_logins (id, tenant_id, subject_id, code_hash, code_expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, id, tenantID, sub.ID, hash, micros(now.Add(loginCodeLifetime)), micros(now))
		return err
	})
	if err != nil {
		return "", err
	}
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return "", err
	}
	cat := i18n.Mail(lang)
	body := mailBody(cat.T("privacy_self.mail.intro", "tenant", name),
		cat.T("privacy_self.mail.give", "minutes", int(loginCodeLifetime/time.Minute)), code,
		cat.T("privacy_self.mail.warn", "tenant", name))
	if !send {
		return id, nil
	}
	if sub.Email == "" {
		return id, db.smsInBackground(ctx, skjold.SMS{To: sub.Phone, TenantID: tenantID, SubjectID: sub.ID,
			Body: cat.T("sms.login", "code", code, "tenant", name, "minutes", int(loginCodeLifetime/time.Minute))})
	}
	return id, db.mailInBackground(ctx, skjold.Message{To: sub.Email, Subject: cat.T("privacy_self.mail.subject", "tenant", name),
		Body: body, TenantID: tenantID, SubjectID: sub.ID})
}

// VerifySubjectLogin checks a login code inside one write, so that concurrent guesses are
// counted one after the other, and opens the session.
func (db *DB) VerifySubjectLogin(ctx context.Context, tenantID, id, code string) (string, error) {
	if !skjold.ValidID(id) || !validCode(code) {
		return "", errWrongCode
	}
	now := db.now().UTC()
	secret := randomSecret(selfPrefix)
	var answer error
	err := db.write(ctx, func(tx *Tx) error {
		var subjectID string
		var hash []byte
		var expires int64
		var attempts int
		err := tx.queryRow(`SELECT subject_id, code_hash, code_expires_at, code_attempts FROM subject_logins
			WHERE id = ? AND tenant_id = ? AND session_hash IS NULL`, id, tenantID).Scan(&subjectID, &hash, &expires, &attempts)
		if err == sql.ErrNoRows {
			answer = errWrongCode
			return nil
		} else if err != nil {
			return err
		}
		c := &skjold.Caller{Actor: skjold.SubjectActorPrefix + subjectID, TenantID: tenantID, Source: sourceOf(ctx)}
		switch {
		case hash == nil && attempts >= maxCodeAttempts:
			answer = errCodeVoid
			return nil
		case hash == nil:
			answer = errWrongCode
			return nil
		case subtle.ConstantTimeCompare(hashSecret(code), hash) != 1:
			attempts++
			answer = errWrongCode
			if attempts >= maxCodeAttempts {
				answer, hash = errCodeVoid, nil
			}
			tx.audit(event(c, "subject.login_failed", subjectID, "", []string{"reason:wrong_code"}))
			_, err = tx.exec("UPDATE subject_logins SET code_hash = ?, code_attempts = ? WHERE id = ?", hash, attempts, id)
			return err
		case !now.Before(fromMicros(expires)):
			answer = skjold.Errorf(skjold.ECONFLICT, "this code has expired: ask for a new one")
			tx.audit(event(c, "subject.login_failed", subjectID, "", []string{"reason:expired"}))
			_, err = tx.exec("UPDATE subject_logins SET code_hash = NULL WHERE id = ?", id)
			return err
		}
		tx.audit(event(c, "subject.login", subjectID, "", nil))
		_, err = tx.exec("UPDATE subject_logins SET code_hash = NULL, session_hash = ?, session_expires_at = ? WHERE id = ?",
			hashSecret(secret), micros(now.Add(skjold.SubjectSessionLifetime)), id)
		return err
	})
	if err != nil {
		return "", err
	}
	if answer != nil {
		return "", answer
	}
	return secret, nil
}

var errSelfGone = skjold.Errorf(skjold.ENOTFOUND, "this login is unknown, ended or expired")

// SubjectSession returns the subject's own caller for a live session.
func (db *DB) SubjectSession(ctx context.Context, tenantID, secret string) (context.Context, string, error) {
	if !strings.HasPrefix(secret, selfPrefix) || len(secret) != len(selfPrefix)+secretLen {
		return nil, "", errSelfGone
	}
	var subjectID string
	err := db.queryRow(ctx, `SELECT subject_id FROM subject_logins WHERE session_hash = ? AND tenant_id = ? AND session_expires_at > ?`,
		hashSecret(secret), tenantID, micros(db.now())).Scan(&subjectID)
	if err != nil {
		return nil, "", notFoundAs(err, errSelfGone)
	}
	c := &skjold.Caller{Actor: skjold.SubjectActorPrefix + subjectID, TenantID: tenantID, Source: sourceOf(ctx),
		Scopes: []string{skjold.ScopeRead, skjold.ScopeWrite}}
	return skjold.NewContextWithCaller(ctx, c), subjectID, nil
}

// EndSubjectSession ends a session by forgetting its secret.
func (db *DB) EndSubjectSession(ctx context.Context, tenantID, secret string) error {
	if !strings.HasPrefix(secret, selfPrefix) {
		return nil
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE subject_logins SET session_hash = NULL, session_expires_at = ? WHERE session_hash = ? AND tenant_id = ?",
			micros(db.now()), hashSecret(secret), tenantID)
		return err
	})
}

// SubjectAccessLog reads the audit events about the subject made by anyone but the subject,
// newest first, and names each accessor by kind and role only.
func (db *DB) SubjectAccessLog(ctx context.Context, tenantID, subjectID string, before int64, limit int) ([]*skjold.SubjectAccess, error) {
	if !skjold.ValidID(subjectID) || before < 0 || limit < 1 || limit > skjold.MaxPageLimit {
		return nil, skjold.FieldError("before", "range", "a page of the access list is out of range")
	}
	q, args := selectEvents+" WHERE tenant_id = ? AND subject_id = ? AND actor <> ?", []any{tenantID, subjectID, skjold.SubjectActorPrefix + subjectID}
	if before > 0 {
		q, args = q+" AND seq < ?", append(args, before)
	}
	events, err := db.findEvents(ctx, q+" ORDER BY seq DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	out := make([]*skjold.SubjectAccess, 0, len(events))
	roles := map[string][2]string{} // user id → accessor, role
	for _, e := range events {
		a := &skjold.SubjectAccess{Seq: e.Seq, Time: e.Time, Action: e.Action, Fields: e.Fields, Purpose: e.Purpose,
			Accessor: skjold.AccessorSystem}
		switch kind, id, _ := strings.Cut(e.Actor, ":"); kind {
		case "user":
			r, ok := roles[id]
			if !ok {
				r = db.accessorOf(ctx, id)
				roles[id] = r
			}
			a.Accessor, a.Role = r[0], r[1]
		case "request", "download":
			a.Accessor = skjold.AccessorRequester
		case "subject":
			a.Accessor = skjold.AccessorSubject
		}
		out = append(out, a)
	}
	return out, nil
}

// accessorOf names a user by kind and role: operator staff (no tenant), else the tenant's
// staff with their role; a user since deleted is staff without a role.
func (db *DB) accessorOf(ctx context.Context, userID string) [2]string {
	var tenant sql.NullString
	var role string
	if err := db.queryRow(ctx, "SELECT tenant_id, role FROM users WHERE id = ?", userID).Scan(&tenant, &role); err != nil {
		return [2]string{skjold.AccessorStaff, ""}
	}
	if !tenant.Valid {
		return [2]string{skjold.AccessorOperator, ""}
	}
	return [2]string{skjold.AccessorStaff, role}
}
