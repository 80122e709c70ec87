package http

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

type blockListBody struct {
	Text  string   `json:"text"`  // the list as a file holds it: one range per line, # comments
	CIDRs []string `json:"cidrs"` // the ranges in force, masked
}

func (s *Server) handleBlockListGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*blockListBody, error) {
		list, err := s.svc.Network.BlockList(r.Context())
		if err != nil {
			return nil, err
		}
		return blockList(list), nil
	})
}

func blockList(list []netip.Prefix) *blockListBody {
	out := &blockListBody{Text: netguard.FormatList(list), CIDRs: make([]string, len(list))}
	for i, p := range list {
		out.CIDRs[i] = p.String()
	}
	return out
}

func (s *Server) handleBlockListPut() http.Handler {
	type request struct {
		Text string `json:"text"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*blockListBody, error) {
		list, err := netguard.ParseList(strings.NewReader(req.Text))
		if err != nil {
			return nil, err
		}
		if err := s.svc.Network.PutBlockList(r.Context(), list); err != nil {
			return nil, err
		}
		s.syncShield(r)
		return blockList(list), nil
	})
}

func (s *Server) handleBanList() http.Handler {
	type response struct {
		Items []*skjold.Ban `json:"items"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		bans, err := s.svc.Network.FindBans(r.Context())
		return &response{Items: bans}, err
	})
}

func (s *Server) handleUnban() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		// An address, or a banned prefix with its slash escaped: /api/v1/bans/2001:db8:1:2::%2F64.
		p, err := netguard.ParsePrefix(r.PathValue("addr"))
		if err != nil {
			return nil, skjold.FieldError("addr", "ip", "addr must be an IPv4 or IPv6 address or CIDR prefix")
		}
		if err := s.svc.Network.Unban(r.Context(), p); err != nil {
			return nil, err
		}
		if s.svc.Shield != nil {
			s.svc.Shield.Guard.Unban(p)
		}
		return nil, nil
	})
}

// syncShield brings this node's guard up to date after a change; other nodes follow
// within their sync interval.
func (s *Server) syncShield(r *http.Request) {
	if s.svc.Shield == nil {
		return
	}
	if err := s.svc.Shield.Sync(r.Context()); err != nil {
		s.log.Error("guard not updated after a change; the next sync retries", "err", err)
	}
}
