package store

import (
	"context"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// nodeActor is the actor of the node registry's audit events.
const nodeActor = "system:cluster"

// Heartbeat implements skjold.ClusterService.
func (db *DB) Heartbeat(ctx context.Context, n *skjold.Node) error {
	now := micros(db.now())
	keys := strings.Join(n.KeyIDs, ",")
	return db.write(ctx, func(tx *Tx) error {
		var down *int64
		err := tx.queryRow("SELECT down_since FROM cluster_nodes WHERE id = ?", n.ID).Scan(&down)
		switch {
		case err == nil:
			_, err = tx.exec(`UPDATE cluster_nodes SET address = ?, version = ?, key_ids = ?, started_at = ?, last_seen = ?,
				down_since = NULL WHERE id = ?`, n.Address, n.Version, keys, micros(n.StartedAt), now, n.ID)
		default:
			if err = notFound(err, "node"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
				return err
			}
			_, err = tx.exec(`INSERT INTO cluster_nodes (id, address, version, key_ids, started_at, last_seen)
				VALUES (?, ?, ?, ?, ?, ?)`, n.ID, n.Address, n.Version, keys, micros(n.StartedAt), now)
		}
		if err == nil && down != nil {
			tx.audit(&skjold.AuditEvent{Actor: nodeActor, Action: "node.up", Source: "local", Fields: []string{clip(n.ID)}})
		}
		return err
	})
}

// MarkSilentNodes implements skjold.ClusterService. It runs in a write, which every node's
// writer takes in turn, so each silence raises node.down once, whichever node notices it.
func (db *DB) MarkSilentNodes(ctx context.Context, silentFor time.Duration) (int, error) {
	now := db.now()
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.query("SELECT id FROM cluster_nodes WHERE down_since IS NULL AND last_seen < ? ORDER BY id",
			micros(now.Add(-silentFor)))
		if err != nil {
			return err
		}
		ids, err := collect(rows, func(s scanner) (string, error) {
			var id string
			return id, s.Scan(&id)
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.exec("UPDATE cluster_nodes SET down_since = ? WHERE id = ?", micros(now), id); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: nodeActor, Action: "node.down", Source: "local", Fields: []string{clip(id)}})
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// FindNodes implements skjold.ClusterService.
func (db *DB) FindNodes(ctx context.Context) ([]*skjold.Node, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	return queryAll(ctx, db, func(s scanner) (*skjold.Node, error) {
		var n skjold.Node
		var keys string
		var started, seen int64
		var down *int64
		if err := s.Scan(&n.ID, &n.Address, &n.Version, &keys, &started, &seen, &down); err != nil {
			return nil, err
		}
		n.KeyIDs = []string{}
		if keys != "" {
			n.KeyIDs = strings.Split(keys, ",")
		}
		n.StartedAt, n.LastSeen, n.Status = fromMicros(started), fromMicros(seen), "up"
		if down != nil {
			n.Status = "down"
		}
		return &n, nil
	}, "SELECT id, address, version, key_ids, started_at, last_seen, down_since FROM cluster_nodes ORDER BY id")
}

var _ skjold.ClusterService = (*DB)(nil)
