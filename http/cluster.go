package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

// handleCluster lists the nodes of the registry with their status, version, listen address,
// last heartbeat and the fingerprints of the master keys each holds.
func (s *Server) handleCluster() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Node], error) {
		if s.svc.Cluster == nil {
			return nil, skjold.Errorf(skjold.EUNAVAILABLE, "this server keeps no node registry")
		}
		nodes, err := s.svc.Cluster.FindNodes(r.Context())
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.Node]{Items: nodes}, nil
	})
}
