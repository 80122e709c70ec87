package skjold

import (
	"context"
	"time"
)

// Node is one Skjold process serving the database, as the node registry knows it.
type Node struct {
	ID        string    `json:"id"`      // the host name and listen address, stable across restarts
	Address   string    `json:"address"` // where the node listens
	Version   string    `json:"version"`
	KeyIDs    []string  `json:"key_ids"` // fingerprints of the master keys the node's key file holds
	StartedAt time.Time `json:"started_at"`
	LastSeen  time.Time `json:"last_seen"`
	// Status is "up", or "down" once the node has been silent longer than the registry's
	// threshold (node.down was raised; node.up is raised when it beats again).
	Status string `json:"status"`
}

// ClusterService is the node registry.
type ClusterService interface {
	// Heartbeat records that node n is alive now (inserting it on its first beat) and
	// raises node.up if it had been marked down. Errors: EUNAVAILABLE.
	Heartbeat(ctx context.Context, n *Node) error
	// MarkSilentNodes marks down every node not seen for silentFor, raising node.down once
	// for each, and returns how many it marked. Errors: EUNAVAILABLE.
	MarkSilentNodes(ctx context.Context, silentFor time.Duration) (int, error)
	// FindNodes lists every node the registry knows, by id. Errors: EUNAUTHORIZED,
	// EFORBIDDEN (operators only).
	FindNodes(ctx context.Context) ([]*Node, error)
}
