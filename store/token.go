package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.TokenService = (*DB)(nil)

// Token secrets start with a prefix that names their kind, so that secret scanners and
// people can tell them apart; the rest is 256 random bits.
const (
	tenantTokenPrefix   = "skjold_t_"
	operatorTokenPrefix = "skjold_o_"
	secretLen           = 43 // base64url of 32 bytes, unpadded
)

// hashSecret is how a secret is stored and looked up. A fast hash suffices: the secret is
// random with 256 bits of entropy, so there is no password to guess.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateToken stores a new token and sets its id, time and secret.
func (db *DB) CreateToken(ctx context.Context, t *skjold.Token) error {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case !c.Operator && (t.Operator || t.TenantID != c.TenantID):
		return skjold.Errorf(skjold.EFORBIDDEN, "a tenant may create tokens only for itself")
	case c.Operator && !t.Operator && !c.Local:
		// A tenant token reads the tenant's personal data; operators reach that only
		// through a support grant [A7].
		return skjold.Errorf(skjold.EFORBIDDEN, "operators make a tenant's first token only when they create the tenant; the tenant's own admins and tokens make the others")
	}
	if err := t.Validate(); err != nil {
		return err
	}
	for _, scope := range t.Scopes {
		if !c.Local && !c.Can(scope) {
			return skjold.FieldError("scopes", "scope", "a token cannot hold a scope its maker lacks")
		}
	}
	return db.write(ctx, func(tx *Tx) error {
		if !t.Operator {
			var destroyed sql.NullInt64
			err := tx.queryRow("SELECT destroyed_at FROM tenants WHERE id = ?", t.TenantID).Scan(&destroyed)
			if err != nil {
				return notFound(err, "tenant")
			} else if destroyed.Valid {
				return errNotFound("tenant") // its key is gone: nothing to grant access to
			}
			if err := tx.checkGrantable(c, t.TenantID, nil, t.Purposes); err != nil {
				return err
			}
		}
		return tx.insertToken(c, t)
	})
}

func (tx *Tx) insertToken(c *skjold.Caller, t *skjold.Token) error {
	b := make([]byte, 32)
	rand.Read(b)
	prefix, tenant, op := tenantTokenPrefix, any(t.TenantID), 0
	if t.Operator {
		prefix, tenant, op = operatorTokenPrefix, nil, 1
	}
	t.ID, t.CreatedAt = newID(), tx.db.now().UTC().Truncate(1000)
	t.Secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	var expires any
	if t.ExpiresAt != nil {
		expires = micros(*t.ExpiresAt)
	}
	// A token made by a person, or by a token a person made, is tied to that person:
	// suspending them revokes it [B8].
	owner := c.UserID
	if parent, ok := strings.CutPrefix(c.Actor, "token:"); ok && owner == "" {
		var u sql.NullString
		if err := tx.queryRow("SELECT user_id FROM tokens WHERE id = ?", parent).Scan(&u); err != nil && err != sql.ErrNoRows {
			return err
		}
		owner = u.String
	}
	_, err := tx.exec(`INSERT INTO tokens (id, tenant_id, operator, name, hash, scopes, created_at, expires_at, user_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, tenant, op, t.Name, hashSecret(t.Secret),
		joinGrants(t.Scopes, t.Purposes), micros(t.CreatedAt), expires, nullString(owner))
	if err != nil {
		return err
	}
	tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: t.TenantID, Action: "token.create", Source: c.Source,
		Fields: []string{"token:" + t.ID}})
	return nil
}

// Authenticate returns the live token with this secret.
func (db *DB) Authenticate(ctx context.Context, secret string) (*skjold.Token, error) {
	unauthorized := skjold.Errorf(skjold.EUNAUTHORIZED, "invalid, expired or revoked token")
	if !(strings.HasPrefix(secret, tenantTokenPrefix) || strings.HasPrefix(secret, operatorTokenPrefix)) ||
		len(secret) != len(tenantTokenPrefix)+secretLen {
		return nil, unauthorized // refused before any query: malformed secrets cost nothing
	}
	defer db.timed("token.authenticate", time.Now()) // wall time: the injected clock may stand still
	hash := hashSecret(secret)
	t, gen, ok := db.tokens.get(string(hash))
	if !ok {
		var err error
		t, err = scanToken(db.queryRow(ctx, selectTokens+" WHERE t.hash = ?", hash))
		if err == sql.ErrNoRows {
			return nil, unauthorized // not cached: a token created a moment later works at once
		} else if err != nil {
			return nil, err
		}
		// A frozen tenant's live token is refused and never cached. A freeze clears this
		// node's cache when it commits (DecideApproval), so it holds here at once; another
		// node refuses the token once its cached entry expires, within recentTTL.
		if t.RevokedAt == nil {
			if err := db.refuseFrozen(ctx, t.TenantID); err != nil {
				return nil, err
			}
		}
		db.tokens.put(string(hash), t, gen)
	}
	now := db.now()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return nil, unauthorized
	}
	if err := db.checkAddress(ctx, t.TenantID, "token:"+t.ID); err != nil {
		return nil, err
	}
	db.noteTokenUse(t.ID, now)
	cp := *t // the cached token stays as read
	return &cp, nil
}

const selectTokens = `SELECT t.id, t.tenant_id, t.operator, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at,
	t.last_used_at FROM tokens t`

type scanner interface{ Scan(...any) error }

func scanToken(s scanner) (*skjold.Token, error) {
	var t skjold.Token
	var tenant sql.NullString
	var op int
	var scopes string
	var created int64
	var expires, revoked, used sql.NullInt64
	if err := s.Scan(&t.ID, &tenant, &op, &t.Name, &scopes, &created, &expires, &revoked, &used); err != nil {
		return nil, err
	}
	t.TenantID, t.Operator, t.CreatedAt = tenant.String, op == 1, fromMicros(created)
	t.Scopes, t.Purposes = splitGrants(scopes)
	if scopes == "" && t.Operator {
		// Operator tokens made before they had scopes of their own hold what they then held.
		t.Scopes = slices.Clone(skjold.OperatorTokenScopes)
	}
	if expires.Valid {
		e := fromMicros(expires.Int64)
		t.ExpiresAt = &e
	}
	if revoked.Valid {
		r := fromMicros(revoked.Int64)
		t.RevokedAt = &r
	}
	t.LastUsedAt = optTime(used)
	return &t, nil
}

// FindTokens returns the caller's tenant's tokens, or every token for an operator.
func (db *DB) FindTokens(ctx context.Context, page skjold.Page) ([]*skjold.Token, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if err := page.Normalize(); err != nil {
		return nil, err
	}
	q, args := selectTokens+" WHERE t.id > ?", []any{page.After}
	if !c.Operator {
		q, args = q+" AND t.tenant_id = ?", append(args, c.TenantID)
	}
	return queryAll(ctx, db, scanToken, q+" ORDER BY t.id LIMIT ?", append(args, page.Limit)...)
}

// RevokeToken revokes a token of the caller's tenant (any token, for an operator).
func (db *DB) RevokeToken(ctx context.Context, id string) error {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	if !skjold.ValidID(id) {
		return errNotFound("token")
	}
	err := db.write(ctx, func(tx *Tx) error {
		q, args := "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", []any{micros(db.now()), id}
		if !c.Operator {
			q, args = q+" AND tenant_id = ?", append(args, c.TenantID)
		}
		res, err := tx.exec(q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("token")
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: c.TenantID, Action: "token.revoke", Source: c.Source,
			Fields: []string{"token:" + id}})
		return nil
	})
	db.tokens.clear() // whatever the outcome: the token stops working on this node at once
	return err
}

// CountOperatorTokens returns how many live operator tokens exist, so that the first start
// knows to make the bootstrap token.
func (db *DB) CountOperatorTokens(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, "SELECT COUNT(*) FROM tokens WHERE operator = 1 AND revoked_at IS NULL").Scan(&n)
	return n, err
}

// tokenUseEvery is how fresh a token's last_used_at is kept: a write per request would buy
// nothing an operator needs.
const tokenUseEvery = time.Minute

// noteTokenUse records, at most once a minute per token and node, that a token was used. The
// write runs in the background: a request never waits for it (after Close it is refused, and
// dropped).
func (db *DB) noteTokenUse(id string, now time.Time) {
	if last, ok := db.tokenUse.Load(id); ok && now.Sub(last.(time.Time)) < tokenUseEvery {
		return
	}
	db.tokenUse.Store(id, now)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := db.write(ctx, func(tx *Tx) error {
			_, err := tx.exec("UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
				micros(now), id, micros(now))
			return err
		})
		if err != nil && skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
			db.log.Warn("token use not recorded", "token", id, "err", err)
		}
	}()
}
