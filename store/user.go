package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const selectUsers = `SELECT u.id, u.tenant_id, COALESCE(u.pending_email, u.email), u.name, u.role, u.profile, p.scopes, u.suspended,
	u.access_until, u.totp_secret IS NOT NULL, u.must_change, u.password_changed_at, u.training_at,
	u.agreement_at, u.last_login_at, u.created_at, u.pending_email IS NOT NULL
	FROM users u LEFT JOIN profiles p ON p.tenant_id = u.tenant_id AND p.name = u.profile`

func scanUser(s scanner) (*skjold.User, error) {
	var u skjold.User
	var tenant, profile, scopes sql.NullString
	var suspended, mustChange int
	var twoFactor bool
	var changed, created int64
	var until, training, agreement, last sql.NullInt64
	if err := s.Scan(&u.ID, &tenant, &u.Email, &u.Name, &u.Role, &profile, &scopes, &suspended, &until,
		&twoFactor, &mustChange, &changed, &training, &agreement, &last, &created, &u.Pending); err != nil {
		return nil, err
	}
	u.TenantID, u.Profile, u.Suspended, u.MustChangePassword = tenant.String, profile.String, suspended == 1, mustChange == 1
	u.TwoFactor, u.PasswordChangedAt, u.CreatedAt = twoFactor, fromMicros(changed), fromMicros(created)
	u.AccessUntil, u.TrainingAt, u.AgreementAt, u.LastLoginAt = optTime(until), optTime(training), optTime(agreement), optTime(last)
	u.Scopes = skjold.RoleScopes(u.Operator(), u.Role)
	if u.Role == skjold.RoleCustom && scopes.String != "" {
		u.Scopes, u.Purposes = splitGrants(scopes.String)
	}
	return &u, nil
}

// mayManage returns nil when the caller may manage the users of tenantID ("" for operator
// staff): a tenant admin its own tenant's, operator staff managers the operator's. Operator
// staff never manage a tenant's people (they could give themselves its data [A7]); they
// only onboard a tenant's first user (see CreateUser).
func mayManage(c *skjold.Caller, tenantID string) error {
	switch {
	case c == nil:
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator && tenantID == "" && c.Can(skjold.ScopeOperatorStaff):
		return nil
	case !c.Operator && tenantID == c.TenantID && c.Can(skjold.ScopeAdmin):
		return nil
	}
	return errNotFound("user") // another tenant's users do not exist for this caller
}

// checkRank refuses giving a role above the caller's own (the access-rights hierarchy).
// Operator managers onboarding a tenant's first user stand above every tenant role.
func checkRank(c *skjold.Caller, tenantID string, role string, scopes []string) error {
	if c.Operator && tenantID != "" {
		return nil
	}
	if skjold.Rank(role, scopes) > skjold.Rank(c.Role, c.Scopes) {
		return skjold.FieldError("role", "hierarchy", "you cannot give a role above your own")
	}
	return nil
}

// profileScopes returns the scopes and purpose limit of a tenant's custom profile, or ENOTFOUND.
func (tx *Tx) profileScopes(tenantID, name string) ([]string, []string, error) {
	var scopes string
	if err := tx.queryRow("SELECT scopes FROM profiles WHERE tenant_id = ? AND name = ?", tenantID, name).Scan(&scopes); err != nil {
		return nil, nil, notFound(err, "profile")
	}
	s, p := splitGrants(scopes)
	return s, p, nil
}

// insertUser stores a new user with its first password hash. The e-mail is unique
// installation-wide. A pending user (u.Pending) keeps its address in pending_email, unique
// in its tenant only, and otp is the hash of its one-time password (see confirm.go).
func (tx *Tx) insertUser(c *skjold.Caller, u *skjold.User, hash string, otp []byte) error {
	if u.Role == skjold.RoleCustom {
		scopes, purposes, err := tx.profileScopes(u.TenantID, u.Profile)
		if err != nil {
			return err
		}
		u.Scopes, u.Purposes = scopes, purposes
	} else {
		u.Scopes = skjold.RoleScopes(u.Operator(), u.Role)
	}
	if err := checkRank(c, u.TenantID, u.Role, u.Scopes); err != nil {
		return err
	}
	now := tx.db.now().UTC().Truncate(time.Microsecond)
	u.ID, u.CreatedAt, u.PasswordChangedAt = newID(), now, now
	var tenant, profile any
	if u.TenantID != "" {
		tenant = u.TenantID
	}
	if u.Profile != "" {
		profile = u.Profile
	}
	email, pending := u.Email, any(nil)
	if u.Pending {
		// Same tenant: the admin sees its own people anyway, so a clash may be named.
		var taken bool
		if err := tx.queryRow("SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND (email = ? OR pending_email = ?))",
			u.TenantID, u.Email, u.Email).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return skjold.Errorf(skjold.ECONFLICT, "a user with this e-mail address exists in this tenant")
		}
		email, pending = pendingPlaceholder+u.ID, u.Email
	}
	_, err := tx.exec(`INSERT INTO users (id, tenant_id, email, name, role, profile, access_until, password_hash,
		password_changed_at, must_change, training_at, agreement_at, created_at, pending_email, otp_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, tenant, email, u.Name, u.Role, profile, optMicros(u.AccessUntil), hash, micros(now),
		boolInt(u.MustChangePassword), optMicros(u.TrainingAt), optMicros(u.AgreementAt), micros(now), pending, otp)
	switch {
	case isUniqueViolation(err):
		return skjold.Errorf(skjold.ECONFLICT, "a user with this e-mail address exists")
	case isForeignKeyViolation(err):
		return errNotFound("tenant")
	case err != nil:
		return err
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: "user.create", Source: c.Source,
		Fields: []string{"user:" + u.ID, "role:" + u.Role}})
	return nil
}

// FindUsers returns the users of the caller's tenant, or the operator's staff.
func (db *DB) FindUsers(ctx context.Context, page skjold.Page) ([]*skjold.User, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if err := page.Normalize(); err != nil {
		return nil, err
	}
	q, args := selectUsers+" WHERE u.id > ? AND u.tenant_id IS NULL", []any{page.After}
	if !c.Operator {
		q, args = selectUsers+" WHERE u.id > ? AND u.tenant_id = ?", append(args, c.TenantID)
	}
	return queryAll(ctx, db, scanUser, q+" ORDER BY u.id LIMIT ?", append(args, page.Limit)...)
}

// FindUserByID returns a user of the caller's tenant (operator staff, or any user, for an
// operator caller).
func (db *DB) FindUserByID(ctx context.Context, id string) (*skjold.User, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("user")
	}
	u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", id))
	if err != nil {
		return nil, notFound(err, "user")
	}
	if u.TenantID != c.TenantID { // operator callers see operator staff only
		return nil, errNotFound("user")
	}
	return u, nil
}

// userForUpdate reads a user inside a write, for a caller that may manage its tenant.
func (tx *Tx) userForUpdate(c *skjold.Caller, id string) (*skjold.User, error) {
	if !skjold.ValidID(id) {
		return nil, errNotFound("user")
	}
	u, err := scanUser(tx.queryRow(selectUsers+" WHERE u.id = ?", id))
	if err != nil {
		return nil, notFound(err, "user")
	}
	if err := mayManage(c, u.TenantID); err != nil {
		return nil, err
	}
	// Nobody changes, suspends or demotes a user who ranks above them.
	if err := checkRank(c, u.TenantID, u.Role, u.Scopes); err != nil {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this user ranks above you")
	}
	return u, nil
}

// oneTimePassword returns a random password for a new account: 20 characters from an
// alphabet without look-alikes, in groups, with every character class, so that it passes
// any policy while it lasts (until the first login replaces it).
func oneTimePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	rand.Read(b)
	var sb strings.Builder
	for i, v := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(alphabet[int(v)%len(alphabet)])
	}
	return "Aa7" + sb.String() // every class, whatever the random part holds
}

// CreateUser stores a user with a one-time password, which is returned once. Operator
// staff with operator.manage create only a tenant's first user (its owner, typically), and
// only while the tenant holds no subjects; after that the tenant's own admins manage its
// people. An account that ranks as an admin or owner is made directly only by an owner (who may also take actions out of four eyes), while
// nobody else could approve it (the first account), or while role elevation is not under
// four eyes; otherwise it is made with a lower role and raised through an approval, so that
// an admin cannot mint a second admin account to approve their own requests.
func (db *DB) CreateUser(ctx context.Context, u *skjold.User) (string, error) {
	c := skjold.CallerFromContext(ctx)
	if err := db.authReady(); err != nil {
		return "", err
	}
	if c != nil && !c.Operator {
		u.TenantID = c.TenantID // a tenant's admin creates users of its own tenant only
	}
	onboarding := c != nil && c.Operator && u.TenantID != "" && c.Can(skjold.ScopeOperatorManage)
	if err := mayManage(c, u.TenantID); err != nil && !onboarding {
		return "", skjold.Errorf(skjold.EFORBIDDEN, "creating these users needs an administrator")
	}
	if err := u.Validate(); err != nil {
		return "", err
	}
	password := oneTimePassword()
	hash, err := db.Hasher().Hash(ctx, password)
	if err != nil {
		return "", err
	}
	u.MustChangePassword = true
	// A tenant's admin learns of an address only that it is free in the tenant: the account
	// waits for the person to confirm the address, and only they learn if it has an account
	// elsewhere. Operator staff, who see every tenant, create confirmed accounts.
	var otp []byte
	if u.Pending = c != nil && !c.Operator; u.Pending {
		otp = hashSecret(password)
	}
	err = db.write(ctx, func(tx *Tx) error {
		others, err := tx.countUsers(u.TenantID)
		switch {
		case err != nil:
			return err
		case onboarding && others > 0:
			return skjold.Errorf(skjold.EFORBIDDEN, "operators create only a tenant's first user; its admins add the others")
		case onboarding:
			// The first user's one-time password passes through the operator's hands: only
			// before the tenant holds personal data, or it would be a way around grants [A7].
			var held bool
			if err := tx.queryRow("SELECT EXISTS (SELECT 1 FROM subjects WHERE tenant_id = ?)", u.TenantID).Scan(&held); err != nil {
				return err
			}
			if held {
				return skjold.Errorf(skjold.EFORBIDDEN, "operators create a tenant's first user only before it holds personal data; the tenant's own admins and tokens add users")
			}
		}
		if err := tx.insertUser(c, u, hash, otp); err != nil { // checks the hierarchy, sets the scopes
			return err
		}
		if others > 0 && c.Role != skjold.RoleOwner && skjold.Rank(u.Role, u.Scopes) >= 2 &&
			db.needsNoApproval(ctx, u.TenantID, skjold.ActionRoleElevation) != nil {
			return skjold.Errorf(skjold.EFORBIDDEN, "an owner or admin account needs a second person: create it with a lower role and raise it through POST /api/v1/approvals")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// countUsers returns how many users the tenant ("" for the operator) has.
func (tx *Tx) countUsers(tenantID string) (int, error) {
	q, args := "SELECT COUNT(*) FROM users WHERE tenant_id = ?", []any{tenantID}
	if tenantID == "" {
		q, args = "SELECT COUNT(*) FROM users WHERE tenant_id IS NULL", nil
	}
	var n int
	return n, tx.queryRow(q, args...).Scan(&n)
}

// UpdateUser changes a user's name, role, offboarding date or register dates.
func (db *DB) UpdateUser(ctx context.Context, id string, upd skjold.UserUpdate) (*skjold.User, error) {
	c := skjold.CallerFromContext(ctx)
	var out *skjold.User
	err := db.write(ctx, func(tx *Tx) error {
		u, err := tx.userForUpdate(c, id)
		if err != nil {
			return err
		}
		if u.ID == c.UserID && (upd.AccessUntil != nil || upd.ClearAccessUntil || upd.TrainingAt != nil || upd.AgreementAt != nil) {
			return skjold.Errorf(skjold.EFORBIDDEN, "your own offboarding, training and agreement dates are kept by another administrator")
		}
		oldRank, oldRole, oldProfile := skjold.Rank(u.Role, u.Scopes), u.Role, u.Profile
		fields, err := tx.applyUserUpdate(c, u, upd)
		if err != nil {
			return err
		}
		if skjold.Rank(u.Role, u.Scopes) > oldRank {
			if err := db.needsNoApproval(ctx, u.TenantID, skjold.ActionRoleElevation); err != nil {
				return err
			}
		}
		if u.Role != oldRole || u.Profile != oldProfile {
			// Tokens keep the scopes they were made with: a person whose role changed makes new ones.
			if _, err := tx.exec("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
				micros(db.now()), u.ID); err != nil {
				return err
			}
			fields = append(fields, "tokens_revoked")
		}
		err = tx.saveUser(u)
		if err != nil {
			return err
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: "user.update", Source: c.Source,
			Fields: append([]string{"user:" + u.ID}, fields...)})
		out = u
		return nil
	})
	db.tokens.clear()
	return out, err
}

// saveUser stores a user's changeable settings.
func (tx *Tx) saveUser(u *skjold.User) error {
	_, err := tx.exec(`UPDATE users SET name = ?, role = ?, profile = ?, access_until = ?, training_at = ?,
		agreement_at = ? WHERE id = ?`, u.Name, u.Role, nullString(u.Profile), optMicros(u.AccessUntil),
		optMicros(u.TrainingAt), optMicros(u.AgreementAt), u.ID)
	return err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// applyUserUpdate changes u as upd says and returns the names of what changed. A new role
// may not rank above the caller's own.
func (tx *Tx) applyUserUpdate(c *skjold.Caller, u *skjold.User, upd skjold.UserUpdate) ([]string, error) {
	var fields []string
	if upd.Name != nil {
		u.Name, fields = *upd.Name, append(fields, "name")
	}
	if upd.Role != nil || upd.Profile != nil {
		if upd.Role != nil {
			u.Role = *upd.Role
		}
		u.Profile = ""
		if upd.Profile != nil {
			u.Profile = *upd.Profile
		}
		fields = append(fields, "role:"+u.Role)
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.Role == skjold.RoleCustom {
		scopes, purposes, err := tx.profileScopes(u.TenantID, u.Profile)
		if err != nil {
			return nil, err
		}
		u.Scopes, u.Purposes = scopes, purposes
	} else {
		u.Scopes, u.Purposes = skjold.RoleScopes(u.Operator(), u.Role), nil
	}
	if err := checkRank(c, u.TenantID, u.Role, u.Scopes); err != nil {
		return nil, err
	}
	if upd.AccessUntil != nil || upd.ClearAccessUntil {
		u.AccessUntil, fields = upd.AccessUntil, append(fields, "access_until")
	}
	if upd.TrainingAt != nil {
		u.TrainingAt, fields = upd.TrainingAt, append(fields, "training_at")
	}
	if upd.AgreementAt != nil {
		u.AgreementAt, fields = upd.AgreementAt, append(fields, "agreement_at")
	}
	return fields, nil
}

// SuspendUser suspends or resumes a user. Suspension revokes the user's sessions and the
// API tokens the user made, in the same transaction.
func (db *DB) SuspendUser(ctx context.Context, id string, suspend bool) error {
	c := skjold.CallerFromContext(ctx)
	err := db.write(ctx, func(tx *Tx) error {
		u, err := tx.userForUpdate(c, id)
		if err != nil {
			return err
		}
		if c.UserID == u.ID {
			return skjold.Errorf(skjold.EINVALID, "you cannot suspend or resume yourself")
		}
		return tx.suspend(c, u, suspend, "admin")
	})
	db.tokens.clear()
	return err
}

// suspend suspends or resumes u. Resuming is also the administrator's unlock: it clears the
// counts of wrong passwords and codes and any lockout.
func (tx *Tx) suspend(c *skjold.Caller, u *skjold.User, suspend bool, reason string) error {
	q := "UPDATE users SET suspended = ? WHERE id = ?"
	if !suspend {
		q = "UPDATE users SET suspended = ?, failed_logins = 0, failed_codes = 0, locked_until = NULL WHERE id = ?"
	}
	if _, err := tx.exec(q, boolInt(suspend), u.ID); err != nil {
		return err
	}
	action := "user.resume"
	if suspend {
		action = "user.suspend"
		now := micros(tx.db.now())
		if _, err := tx.exec("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", now, u.ID); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", now, u.ID); err != nil {
			return err
		}
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: u.TenantID, Action: action, Source: c.Source,
		Fields: []string{"user:" + u.ID, "reason:" + reason}})
	return nil
}

// FindSessions lists the live sessions of a user: the caller's own, or any user's that the
// caller manages.
func (db *DB) FindSessions(ctx context.Context, userID string) ([]*skjold.Session, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if userID != c.UserID {
		u, err := db.FindUserByID(ctx, userID)
		if err != nil {
			return nil, err
		}
		if err := mayManage(c, u.TenantID); err != nil {
			return nil, err
		}
	}
	return queryAll(ctx, db, scanSession, selectSessions+` WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY id`, userID, micros(db.now()))
}

// RevokeSession ends one session of the caller, or of a user the caller manages.
func (db *DB) RevokeSession(ctx context.Context, id string) error {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if !skjold.ValidID(id) {
		return errNotFound("session")
	}
	var userID string
	if err := db.queryRow(ctx, "SELECT user_id FROM sessions WHERE id = ? AND revoked_at IS NULL", id).Scan(&userID); err != nil {
		return notFound(err, "session")
	}
	if userID != c.UserID {
		u, err := db.FindUserByID(ctx, userID)
		if err != nil {
			return errNotFound("session")
		}
		if mayManage(c, u.TenantID) != nil {
			return errNotFound("session")
		}
	}
	return db.revokeSessions(ctx, c, "id = ?", id)
}

// SuspendExpiredUsers suspends every user whose access_until has passed [B8], revoking their
// sessions and tokens, and returns how many it suspended. The offboarding job calls it.
func (db *DB) SuspendExpiredUsers(ctx context.Context) (int, error) {
	c := &skjold.Caller{Actor: "system:offboarding", Operator: true, Source: "local"}
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(selectUsers+" WHERE u.suspended = 0 AND u.access_until <= ?", micros(db.now()))
		if err != nil {
			return err
		}
		users, err := collect(rows, scanUser)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := tx.suspend(c, u, true, "access_until"); err != nil {
				return err
			}
		}
		n = len(users)
		return nil
	})
	if n > 0 {
		db.tokens.clear()
	}
	return n, err
}
