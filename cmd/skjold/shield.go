package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	skjoldhttp "github.com/skjold-project/skjold/http"
	"github.com/skjold-project/skjold/netguard"
	"github.com/skjold-project/skjold/store"
)

// newShield builds the request guard: the threat detectors with their default rules (IPv6
// counted by ban_ipv6_prefix), the
// trusted proxies, and the bans and block list read from the database. A configured block
// list file replaces the stored block list at start.
func newShield(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) (*skjoldhttp.Shield, error) {
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return nil, err
	}
	if cfg.BlockListFile != "" {
		f, err := os.Open(cfg.BlockListFile)
		if err != nil {
			return nil, fmt.Errorf("blocklist_file: %w", err)
		}
		list, err := netguard.ParseList(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("blocklist_file %s: %w", cfg.BlockListFile, err)
		}
		if err := db.PutBlockList(ownerContext(ctx), list); err != nil {
			return nil, err
		}
	}
	bits, err := cfg.banIPv6Prefix()
	if err != nil {
		return nil, err
	}
	sh := &skjoldhttp.Shield{Guard: &netguard.Guard{}, Detector: netguard.NewDetector(netguard.DetectorConfig{IPv6Prefix: bits}),
		TrustedProxies: proxies, Network: db, Now: time.Now, Load: db.GuardState}
	// On PostgreSQL, which several nodes may share, the detectors count in the database, so
	// that events spread over the nodes count as on one; an event the database cannot take
	// counts on this node. SQLite serves one node: its detectors count in memory, as fast as
	// before, with the same answers.
	if db.Engine() == store.Postgres {
		sh.Detector.Shared = db
		sh.Detector.OnSharedError = func(err error) {
			log.Warn("threat detector state not shared; counted on this node", "component", "shield", "err", err)
		}
	}
	return sh, sh.Sync(ctx)
}

// trustedProxies parses trusted_proxies: CIDR ranges or addresses, separated by commas.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	if strings.TrimSpace(c.TrustedProxies) == "" {
		return nil, nil
	}
	list, err := netguard.ParseList(strings.NewReader(strings.ReplaceAll(c.TrustedProxies, ",", "\n")))
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: give CIDR ranges or addresses separated by commas")
	}
	return list, nil
}
