package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.AuthService = (*DB)(nil)

// Session secrets, like token secrets, name their kind and carry 256 random bits.
const sessionPrefix = "skjold_s_"

// sessionTokenHours caps the lifetime of bearer session tokens: API clients log in again.
const sessionTokenHours = 1

// touchEvery is how stale last_seen_at may get before a request updates it: the idle lock
// is measured in minutes, so a write per request would buy nothing.
const touchEvery = 30 * time.Second

var (
	errLogin     = skjold.Errorf(skjold.EUNAUTHORIZED, "invalid e-mail address or password")
	errLockedOut = skjold.Errorf(skjold.ETOOMANY, "too many failed logins: try again in a few minutes")
)

func randomSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func (db *DB) authReady() error {
	a := db.auth
	if a.Hasher == nil || a.Checker == nil || a.OTP == nil || a.Mailer == nil {
		return skjold.Errorf(skjold.EINTERNAL, "logins are not configured on this store")
	}
	return nil
}

// credentials are what a login checks; they never leave the store.
type credentials struct {
	hash        string
	failed      int
	lockedUntil sql.NullInt64
	keyID       sql.NullString
	totp        []byte // sealed
	pending     []byte // sealed, not yet confirmed
	lastStep    int64
}

const selectCredentials = `SELECT password_hash, failed_logins, locked_until, totp_key_id, totp_secret, totp_pending,
	totp_last_step FROM users WHERE id = ?`

func (db *DB) credentials(ctx context.Context, userID string) (*credentials, error) {
	var cr credentials
	err := db.queryRow(ctx, selectCredentials, userID).Scan(&cr.hash, &cr.failed, &cr.lockedUntil, &cr.keyID,
		&cr.totp, &cr.pending, &cr.lastStep)
	return &cr, notFound(err, "user")
}

// userByEmail returns the user with this address, or nil when there is none.
func (db *DB) userByEmail(ctx context.Context, email string) (*skjold.User, error) {
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.email = ?", email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return u, err
}

// active reports why a user may not act at all: suspended, or past its access end date.
func (db *DB) inactive(u *skjold.User) error {
	if u.Suspended || (u.AccessUntil != nil && !db.now().Before(*u.AccessUntil)) {
		return skjold.Errorf(skjold.EFORBIDDEN, "this account is suspended")
	}
	return nil
}

func sourceOf(ctx context.Context) string {
	if c := skjold.CallerFromContext(ctx); c != nil {
		return c.Source
	}
	return ""
}

// Login checks e-mail and password (and the second factor, when a code is given) and opens
// a session. An unknown address costs one password hash, as a known one does.
func (db *DB) Login(ctx context.Context, l skjold.Login) (*skjold.Session, *skjold.Identity, error) {
	if err := db.authReady(); err != nil {
		return nil, nil, err
	}
	if l.Kind == "" {
		l.Kind = skjold.SessionCookie
	}
	if l.Kind != skjold.SessionCookie && l.Kind != skjold.SessionToken {
		return nil, nil, skjold.FieldError("session", "kind", `session must be "cookie" or "token"`)
	}
	src := sourceOf(ctx)
	if len(l.Password) > skjold.MaxPasswordLength {
		return nil, nil, errLogin // refused alike for every address, before any look-up
	}
	email, err := skjold.NormalizeEmail("email", l.Email)
	key := email
	if err != nil {
		key = strings.ToLower(strings.TrimSpace(l.Email))
	}
	// One check per address at a time, claimed before the look-up, so that concurrent
	// attempts for an unknown address get the same "in progress" answers as for an account.
	release, err := db.attempts.begin("login:" + key)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	var u *skjold.User
	if email != "" {
		if u, err = db.pendingUser(ctx, email, l.Password); err != nil {
			return nil, nil, err
		} else if u != nil {
			return db.pendingLogin(ctx, u, l.Kind)
		}
		if u, err = db.userByEmail(ctx, email); err != nil {
			return nil, nil, err
		}
	}
	if u == nil {
		return nil, nil, db.unknownLogin(ctx, email, l.Password)
	}
	releaseUser, err := db.attempts.begin(u.ID) // excludes the account's session checks (sessionUser)
	if err != nil {
		return nil, nil, err
	}
	defer releaseUser()
	cr, err := db.credentials(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	if until := optTime(cr.lockedUntil); until != nil && db.now().Before(*until) {
		return nil, nil, errLockedOut
	}
	ok, rehash, err := db.Hasher().Verify(ctx, cr.hash, l.Password)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, db.loginFailed(ctx, u, "password", errLogin)
	}
	if err := db.admit(ctx, u); err != nil {
		return nil, nil, err
	}
	if rehash {
		db.upgradeHash(ctx, u.ID, cr.hash, l.Password)
	}
	secondFactor := false
	if l.Code != "" && u.TwoFactor {
		if err := db.checkSecondFactor(ctx, u, cr, l.Code); err != nil {
			return nil, nil, err
		}
		secondFactor = true
	}
	return db.openSession(ctx, u, l.Kind, src, secondFactor)
}

// admit refuses a login whose password (or one-time password) was right when the account
// may not log in now: suspended, its tenant frozen, or from outside the allowed networks.
func (db *DB) admit(ctx context.Context, u *skjold.User) error {
	if db.inactive(u) != nil {
		// Answered and counted exactly as a wrong password: a suspended account's password
		// must not tell a guesser that it is right, nor that the account exists.
		return db.loginFailed(ctx, u, "suspended", errLogin)
	}
	if err := db.refuseFrozen(ctx, u.TenantID); err != nil {
		db.auditOnly(ctx, userEvent(u, "auth.login_refused", sourceOf(ctx), "reason:frozen"))
		return err
	}
	// Checked after the password, so that it tells an outsider nothing.
	return db.checkAddress(ctx, u.TenantID, "user:"+u.ID)
}

// unknownLogin answers a login for an address without an account exactly as a wrong
// password for a known one: the same hash, the same lockout, the same error.
func (db *DB) unknownLogin(ctx context.Context, email, password string) error {
	if ok, err := db.attemptUnknown(ctx, email); err != nil {
		return err
	} else if !ok {
		return errLockedOut
	}
	if _, _, err := db.Hasher().Verify(ctx, "", password); err != nil {
		return err // the hasher is saturated: a known address would get the same
	}
	db.auditOnly(ctx, &skjold.AuditEvent{Actor: "anonymous", Action: "auth.login_failed", Source: sourceOf(ctx),
		Fields: []string{"reason:unknown_account"}})
	return errLogin
}

// Hasher returns the configured password hasher.
func (db *DB) Hasher() skjold.PasswordHasher { return db.auth.Hasher }

func userEvent(u *skjold.User, action, source string, fields ...string) *skjold.AuditEvent {
	return &skjold.AuditEvent{Actor: "user:" + u.ID, TenantID: u.TenantID, Action: action, Source: source,
		Fields: append([]string{"user:" + u.ID}, fields...)}
}

// loginFailed counts a failed password, locking the account for a growing delay, and
// returns err. A password success resets this count.
func (db *DB) loginFailed(ctx context.Context, u *skjold.User, what string, err error) error {
	return db.countFailure(ctx, u, "failed_logins", what, err)
}

// codeFailed counts a wrong second-factor code (TOTP, replayed TOTP or recovery code) and
// returns err. The count is kept apart from failed_logins because a password success resets
// that one: whoever holds the password could otherwise guess codes forever [B6, B11]. Only
// a correct code or an administrator's unlock resets it; it locks with the same delays.
func (db *DB) codeFailed(ctx context.Context, u *skjold.User, what string, err error) error {
	return db.countFailure(ctx, u, "failed_codes", what, err)
}

// countFailure adds one to the counter column of u, locks the account for
// skjold.LockoutDelay of the new count (an auth.lockout event, which raises an alert), and
// returns err.
func (db *DB) countFailure(ctx context.Context, u *skjold.User, column, what string, err error) error {
	src := sourceOf(ctx)
	werr := db.write(ctx, func(tx *Tx) error {
		var failed int
		if err := tx.queryRow("UPDATE users SET "+column+" = "+column+" + 1 WHERE id = ? RETURNING "+column,
			u.ID).Scan(&failed); err != nil {
			return err
		}
		tx.audit(userEvent(u, "auth.login_failed", src, "reason:"+what))
		if d := skjold.LockoutDelay(failed); d > 0 {
			if _, err := tx.exec("UPDATE users SET locked_until = ? WHERE id = ?", micros(db.now().Add(d)), u.ID); err != nil {
				return err
			}
			tx.audit(userEvent(u, "auth.lockout", src, "minutes:"+itoa(int(d/time.Minute)), "reason:"+what))
		}
		return nil
	})
	if werr != nil {
		return werr
	}
	return err
}

// upgradeHash replaces a hash made with weaker parameters. A failure is logged, not
// returned: the login itself succeeded.
func (db *DB) upgradeHash(ctx context.Context, userID, old, password string) {
	hash, err := db.Hasher().Hash(ctx, password)
	if err == nil {
		err = db.write(ctx, func(tx *Tx) error {
			_, err := tx.exec("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", hash, userID, old)
			return err
		})
	}
	if err != nil {
		db.log.Warn("password hash upgrade failed", "user", userID, "err", err)
	}
}

// openSession stores a new session for u and returns it with its secret (and CSRF token).
func (db *DB) openSession(ctx context.Context, u *skjold.User, kind, src string, secondFactor bool) (*skjold.Session, *skjold.Identity, error) {
	set, err := db.sessionSettingsFor(ctx, u.TenantID)
	if err != nil {
		return nil, nil, err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	hours := set.SessionHours
	if kind == skjold.SessionToken {
		hours = min(hours, sessionTokenHours)
	}
	s := &skjold.Session{ID: newID(), UserID: u.ID, TenantID: u.TenantID, Kind: kind, Source: src, CreatedAt: now,
		LastSeenAt: now, ExpiresAt: now.Add(time.Duration(hours) * time.Hour), SecondFactor: secondFactor,
		Secret: randomSecret(sessionPrefix)}
	var csrf []byte
	if kind == skjold.SessionCookie {
		s.CSRF = randomSecret("")
		csrf = hashSecret(s.CSRF)
	}
	err = db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO sessions (id, user_id, kind, hash, csrf_hash, source, created_at, last_seen_at,
			expires_at, second_factor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, u.ID, kind, hashSecret(s.Secret),
			csrf, src, micros(now), micros(now), micros(s.ExpiresAt), boolInt(secondFactor))
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
			micros(now), u.ID); err != nil {
			return err
		}
		tx.audit(userEvent(u, "auth.login", src, "session:"+s.ID, "kind:"+kind))
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	u.LastLoginAt = &now
	id := &skjold.Identity{User: u, Session: s, Stage: stage(u, s, &set.SessionSettings, now)}
	return s, id, nil
}

// stage decides what a session may do now; see the Stage constants.
func stage(u *skjold.User, s *skjold.Session, set *skjold.SessionSettings, now time.Time) string {
	switch {
	case s.Locked || now.Sub(s.LastSeenAt) > time.Duration(set.IdleMinutes)*time.Minute:
		return skjold.StageLocked
	case u.Pending:
		return skjold.StageConfirmEmail
	case u.TwoFactor && !s.SecondFactor:
		return skjold.StageSecondFactor
	case u.MustChangePassword || set.Password.Expired(u.PasswordChangedAt, now):
		return skjold.StageChangePassword
	case skjold.NeedsTwoFactor(u.Role, u.Scopes) && !u.TwoFactor:
		return skjold.StageEnrolTwoFactor
	}
	return skjold.StageActive
}

const selectSessions = `SELECT id, user_id, kind, source, created_at, last_seen_at, expires_at, second_factor, locked
	FROM sessions`

func scanSession(sc scanner) (*skjold.Session, error) {
	var s skjold.Session
	var created, seen, expires int64
	var second, locked int
	if err := sc.Scan(&s.ID, &s.UserID, &s.Kind, &s.Source, &created, &seen, &expires, &second, &locked); err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	s.SecondFactor, s.Locked = second == 1, locked == 1
	return &s, nil
}

// AuthenticateSession returns the identity behind a session secret and keeps the session's
// last-seen time fresh. A session idle for too long is locked here, once and for all.
func (db *DB) AuthenticateSession(ctx context.Context, secret string) (*skjold.Identity, error) {
	unauthorized := skjold.Errorf(skjold.EUNAUTHORIZED, "invalid, expired or ended session")
	if !strings.HasPrefix(secret, sessionPrefix) || len(secret) != len(sessionPrefix)+secretLen {
		return nil, unauthorized
	}
	s, err := scanSession(db.queryRow(ctx, selectSessions+" WHERE hash = ? AND revoked_at IS NULL", hashSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, err
	}
	now := db.now()
	if !now.Before(s.ExpiresAt) {
		return nil, unauthorized
	}
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", s.UserID))
	if err != nil {
		return nil, notFound(err, "user")
	}
	if db.inactive(u) != nil {
		return nil, unauthorized
	}
	if err := db.refuseFrozen(ctx, u.TenantID); err != nil {
		return nil, err // a freeze ends the sessions; this refuses one opened while it committed
	}
	s.TenantID = u.TenantID
	set, err := db.sessionSettingsFor(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	if err := db.checkAddress(ctx, u.TenantID, "user:"+u.ID); err != nil {
		return nil, err
	}
	id := &skjold.Identity{User: u, Session: s, Stage: stage(u, s, &set.SessionSettings, now)}
	if err := db.touchSession(ctx, id, now); err != nil {
		return nil, err
	}
	return id, nil
}

// touchSession locks an idle session or refreshes its last-seen time.
func (db *DB) touchSession(ctx context.Context, id *skjold.Identity, now time.Time) error {
	s := id.Session
	switch {
	case id.Stage == skjold.StageLocked && !s.Locked:
		s.Locked = true
		return db.write(ctx, func(tx *Tx) error {
			_, err := tx.exec("UPDATE sessions SET locked = 1 WHERE id = ?", s.ID)
			tx.audit(userEvent(id.User, "auth.session_locked", sourceOf(ctx), "session:"+s.ID))
			return err
		})
	case id.Stage != skjold.StageLocked && now.Sub(s.LastSeenAt) > touchEvery:
		return db.write(ctx, func(tx *Tx) error {
			_, err := tx.exec("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
				micros(now), s.ID, micros(now))
			return err
		})
	}
	return nil
}

// errDenied answers a request from outside the tenant's allowed networks.
var errDenied = skjold.Errorf(skjold.EFORBIDDEN, "your address may not reach this account: it is outside the allowed networks")

// checkAddress refuses a request whose client address is outside the allow list of the
// tenant ("" for the operator) [B10], recording a security event.
func (db *DB) checkAddress(ctx context.Context, tenantID, actor string) error {
	set, err := db.sessionSettingsFor(ctx, tenantID)
	if err != nil {
		return err
	}
	src := sourceOf(ctx)
	if set.allows(src) {
		return nil
	}
	db.auditOnly(ctx, &skjold.AuditEvent{Actor: actor, TenantID: tenantID, Action: "security.denied_address", Source: src,
		Fields: []string{}})
	return errDenied
}

// VerifyCSRF compares a CSRF token with the session's, in constant time.
func (db *DB) VerifyCSRF(ctx context.Context, sessionID, token string) bool {
	var want []byte
	if token == "" || db.queryRow(ctx, "SELECT csrf_hash FROM sessions WHERE id = ?", sessionID).Scan(&want) != nil {
		return false
	}
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// sessionCaller returns the caller of ctx when it is a logged-in user.
func sessionCaller(ctx context.Context) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil || c.UserID == "" || c.SessionID == "" {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this needs a logged-in user, not an API token")
	}
	return c, nil
}

// Logout ends the caller's session.
func (db *DB) Logout(ctx context.Context) error {
	c, err := sessionCaller(ctx)
	if err != nil {
		return err
	}
	return db.revokeSessions(ctx, c, "id = ?", c.SessionID)
}

// revokeSessions ends the live sessions matching where, with one audit event.
func (db *DB) revokeSessions(ctx context.Context, c *skjold.Caller, where string, args ...any) error {
	return db.write(ctx, func(tx *Tx) error {
		return tx.revokeSessions(c, where, args...)
	})
}

func (tx *Tx) revokeSessions(c *skjold.Caller, where string, args ...any) error {
	res, err := tx.exec("UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND "+where,
		append([]any{micros(tx.db.now())}, args...)...)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	tx.audit(event(c, "auth.sessions_ended", "", "", []string{"count:" + itoa(int(n))}))
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
