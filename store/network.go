package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.NetworkService = (*DB)(nil)

func networkCaller(ctx context.Context, scope string) (*skjold.Caller, error) {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Can(scope) {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q permission", scope)
	}
	return c, nil
}

func scanBan(s scanner) (*skjold.Ban, error) {
	var b skjold.Ban
	var until, created int64
	if err := s.Scan(&b.Addr, &until, &b.Reason, &created); err != nil {
		return nil, err
	}
	b.Until, b.CreatedAt = fromMicros(until), fromMicros(created)
	return &b, nil
}

// FindBans returns the bans in force, for an operator.
func (db *DB) FindBans(ctx context.Context) ([]*skjold.Ban, error) {
	if _, err := networkCaller(ctx, skjold.ScopeOperatorRead); err != nil {
		return nil, err
	}
	return db.bans(ctx)
}

// bans returns the bans in force, for the server's own guard.
func (db *DB) bans(ctx context.Context) ([]*skjold.Ban, error) {
	return queryAll(ctx, db, scanBan, "SELECT addr, until, reason, created_at FROM bans WHERE until > ? ORDER BY addr",
		micros(db.now()))
}

// banKey is how a banned prefix is stored and shown: a single address as the address, so
// that bans stored before prefixes keep their key; a wider prefix in CIDR form.
func banKey(p netip.Prefix) (string, error) {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if !p.IsValid() || p.Addr().Zone() != "" {
		return "", skjold.FieldError("addr", "cidr", "not an address or CIDR range")
	}
	if p = p.Masked(); p.IsSingleIP() {
		return p.Addr().String(), nil
	}
	return p.String(), nil
}

// parseBanKey reads a stored ban key back.
func parseBanKey(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

// Ban records a ban; a longer one for the same prefix wins. The audit event names the
// operator caller in ctx as its actor, and the threat detectors when there is none.
func (db *DB) Ban(ctx context.Context, p netip.Prefix, until time.Time, reason string) error {
	a, err := banKey(p)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		res, err := tx.exec("UPDATE bans SET until = ?, reason = ? WHERE addr = ? AND until < ?", micros(until), reason, a, micros(until))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = tx.exec(`INSERT INTO bans (addr, until, reason, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (addr) DO NOTHING`, a, micros(until), reason, now)
			if err != nil {
				return err
			}
		}
		actor := "system:threat-detection"
		if c := skjold.CallerFromContext(ctx); c != nil && c.Operator {
			actor = c.Actor // an operator's own ban, from the console
		}
		tx.audit(&skjold.AuditEvent{Actor: actor, Action: "security.ban", Source: a,
			Fields: []string{"reason:" + reason, "until:" + until.UTC().Format(time.RFC3339)}})
		return nil
	})
}

// Unban lifts a ban.
func (db *DB) Unban(ctx context.Context, p netip.Prefix) error {
	c, err := networkCaller(ctx, skjold.ScopeOperatorManage)
	if err != nil {
		return err
	}
	a, err := banKey(p)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM bans WHERE addr = ?", a)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("ban")
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, Action: "security.unban", Source: c.Source, Fields: []string{"addr:" + a}})
		return nil
	})
}

// BlockList returns the operator's block list.
func (db *DB) BlockList(ctx context.Context) ([]netip.Prefix, error) {
	if _, err := networkCaller(ctx, skjold.ScopeOperatorRead); err != nil {
		return nil, err
	}
	return db.blockList(ctx)
}

func (db *DB) blockList(ctx context.Context) ([]netip.Prefix, error) {
	return queryAll(ctx, db, func(s scanner) (netip.Prefix, error) {
		var cidr string
		if err := s.Scan(&cidr); err != nil {
			return netip.Prefix{}, err
		}
		return netip.ParsePrefix(cidr)
	}, "SELECT cidr FROM blocklist ORDER BY cidr")
}

// PutBlockList replaces the operator's block list.
func (db *DB) PutBlockList(ctx context.Context, prefixes []netip.Prefix) error {
	c, err := networkCaller(ctx, skjold.ScopeOperatorManage)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("DELETE FROM blocklist"); err != nil {
			return err
		}
		now := micros(db.now())
		for _, p := range prefixes {
			_, err := tx.exec("INSERT INTO blocklist (cidr, created_at) VALUES (?, ?) ON CONFLICT (cidr) DO NOTHING",
				p.Masked().String(), now)
			if err != nil {
				return err
			}
		}
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, Action: "security.blocklist", Source: c.Source,
			Fields: []string{"ranges:" + itoa(len(prefixes))}})
		return nil
	})
}

// GuardState returns what the request guard needs: the block list and the bans in force,
// read with no caller (the server itself).
func (db *DB) GuardState(ctx context.Context) ([]netip.Prefix, map[netip.Prefix]time.Time, error) {
	list, err := db.blockList(ctx)
	if err != nil {
		return nil, nil, err
	}
	bans, err := db.bans(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[netip.Prefix]time.Time, len(bans))
	for _, b := range bans {
		if p, err := parseBanKey(b.Addr); err == nil {
			m[p] = b.Until
		}
	}
	return list, m, nil
}

// OtherTenantsObject reports whether id names a live object of a tenant other than tenantID.
func (db *DB) OtherTenantsObject(ctx context.Context, id, tenantID string) (bool, error) {
	if !skjold.ValidID(id) {
		return false, nil
	}
	var n int
	err := db.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM subjects WHERE id = ? AND tenant_id <> ?)
		+ (SELECT COUNT(*) FROM records WHERE id = ? AND tenant_id <> ?)
		+ (SELECT COUNT(*) FROM users WHERE id = ? AND COALESCE(tenant_id, '') <> ?)
		+ (SELECT COUNT(*) FROM tokens WHERE id = ? AND revoked_at IS NULL AND COALESCE(tenant_id, '') <> ?)`,
		id, tenantID, id, tenantID, id, tenantID, id, tenantID).Scan(&n)
	return n > 0, err
}
