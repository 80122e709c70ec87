package skjold

import (
	"context"
	"net/netip"
	"time"
)

// Ban is an address or network refused for a while after hostile behaviour [B11]: too many
// failed logins, invalid tokens, probes of other tenants' objects, floods of errors. IPv6
// sources are banned by prefix (a /64 by default, wider on repeat).
type Ban struct {
	Addr      string    `json:"addr"` // an address ("198.51.100.7") or a CIDR prefix ("2001:db8:1:2::/64")
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"` // the detector rule that fired, or "operator"
	CreatedAt time.Time `json:"created_at"`
}

// MaxAllowedNetworks bounds a tenant's allow list.
const MaxAllowedNetworks = 1000

// ParseNetworks parses an allow list of CIDR ranges or single addresses (IPv4 or IPv6),
// masked to their prefix, naming field in the error and never echoing the input.
func ParseNetworks(field string, cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) > MaxAllowedNetworks {
		return nil, FieldError(field, "size", "%s holds at most %d ranges", field, MaxAllowedNetworks)
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for i, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, FieldError(field, "cidr", "%s[%d] is not an IP address or CIDR range", field, i)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// AddrAllowed reports whether addr may reach a tenant whose allow list is networks. An
// empty list allows every address; an address that does not parse is never allowed by a
// non-empty list.
func AddrAllowed(networks []netip.Prefix, addr string) bool {
	if len(networks) == 0 {
		return true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// NetworkService keeps the bans and the operator's block list in the database, so that they
// survive restarts and apply on every node [B11]. Every method but Ban needs an operator
// caller with the operator.manage scope (reads: operator.read).
type NetworkService interface {
	// FindBans returns the bans in force. Errors: EFORBIDDEN.
	FindBans(ctx context.Context) ([]*Ban, error)

	// Ban refuses every address in p (a single address is a /32 or /128) until the given
	// time, recording why. It needs no caller: detectors call it; an operator's ban (from
	// the console) is audited under that operator. A longer ban for the same prefix wins.
	Ban(ctx context.Context, p netip.Prefix, until time.Time, reason string) error

	// Unban lifts the ban of exactly p at once (not of prefixes inside or around it).
	// Errors: ENOTFOUND, EFORBIDDEN.
	Unban(ctx context.Context, p netip.Prefix) error

	// BlockList returns the operator's block list. Errors: EFORBIDDEN.
	BlockList(ctx context.Context) ([]netip.Prefix, error)

	// PutBlockList replaces the operator's block list. Errors: EINVALID, EFORBIDDEN.
	PutBlockList(ctx context.Context, prefixes []netip.Prefix) error

	// OtherTenantsObject reports whether id names a live subject, record, user or token of a
	// tenant other than tenantID ("" for the operator's own). It needs no caller: the request
	// guard asks it after a 404, to tell a stale link from a probe for another tenant's
	// objects (ids are random, so knowing one is a sign).
	OtherTenantsObject(ctx context.Context, id, tenantID string) (bool, error)
}
