package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
)

// The node registry: every node beats every heartbeatEvery, and a node silent for
// nodeSilentAfter is marked down (node.down, alerted) by whichever node notices first.
const (
	heartbeatEvery  = 10 * time.Second
	nodeSilentAfter = 30 * time.Second
)

// nodeID names this node in the registry: the host name and the configured listen address,
// so that a restarted node keeps its row (and raises node.up); with port 0 the process id
// tells two nodes of one host apart.
func nodeID(cfg Config) string {
	host, _ := os.Hostname()
	id := host + " " + cfg.Addr
	if _, port, _ := net.SplitHostPort(cfg.Addr); port == "0" {
		id += fmt.Sprintf(" pid %d", os.Getpid())
	}
	return id
}

// clusterJob beats this node's heartbeat (with the key fingerprints it holds) and marks the
// silent nodes down.
func clusterJob(log *slog.Logger, cfg Config, cluster skjold.ClusterService, ring *keys.Keyring) *job {
	n := &skjold.Node{ID: nodeID(cfg), Address: cfg.Addr, Version: version, StartedAt: time.Now().UTC()}
	if cfg.PublicURL != "" {
		n.Address = cfg.PublicURL
	}
	return &job{name: "cluster", every: heartbeatEvery, log: log, pass: func(ctx context.Context) error {
		ring.Refresh()
		n.KeyIDs = ring.KeyIDs()
		if err := cluster.Heartbeat(ctx, n); err != nil {
			return err
		}
		_, err := cluster.MarkSilentNodes(ctx, nodeSilentAfter)
		return err
	}}
}
