package http

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

// maxBanHours bounds an operator's ban: a year; longer belongs on the block list.
const maxBanHours = 24 * 366

// opNetworkData is the bans and block list page.
type opNetworkData struct {
	Bans  []*skjold.Ban
	Block []string // the block list's ranges in force
}

func (s *Server) opNetworkPage(w http.ResponseWriter, r *http.Request, status int, v *opView) {
	ctx := r.Context()
	bans, err := s.svc.Network.FindBans(ctx)
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	list, err := s.svc.Network.BlockList(ctx)
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	d := &opNetworkData{Bans: bans}
	for _, p := range list {
		d.Block = append(d.Block, p.String())
	}
	if _, ok := v.Form["text"]; !ok {
		v.Form["text"] = netguard.FormatList(list)
	}
	if v.Form["hours"] == "" {
		v.Form["hours"] = "24"
	}
	v.Data = d
	s.render(w, r, status, "operator.network", v.View)
}

func (s *Server) handleOpNetwork() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opNetworkPage(w, r, http.StatusOK, newOpView(r, "operator.network.title"))
	})
}

// handleOpBan bans an address or range for some hours, as the threat detectors do, with
// the operator as the audited actor. It refuses to ban the operator's own address, which
// would lock them out of this page.
func (s *Server) handleOpBan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.network.title")
		addr, hours := strings.TrimSpace(r.PostForm.Get("addr")), strings.TrimSpace(r.PostForm.Get("hours"))
		v.Form["addr"], v.Form["hours"] = addr, hours
		p, err := banPrefix(addr)
		n, nerr := strconv.Atoi(hours)
		switch {
		case err != nil:
		case nerr != nil || n < 1 || n > maxBanHours:
			err = skjold.FieldError("hours", "range", "hours must be 1 to %d", maxBanHours)
		case containsAddr(p, clientAddr(r)):
			err = skjold.FieldError("addr", "own", "this is your own address")
		default:
			until := time.Now().Add(time.Duration(n) * time.Hour)
			if err = s.svc.Network.Ban(r.Context(), p, until, "operator"); err == nil && s.svc.Shield != nil {
				s.svc.Shield.Guard.Ban(p, until) // this node refuses at once; the others at their next sync
			}
		}
		if err != nil {
			v.fail(err, "addr", "hours")
			s.opNetworkPage(w, r, statusOf(err), v)
			return
		}
		http.Redirect(w, r, "/console/operator/network?m=op_banned", http.StatusSeeOther)
	})
}

// banPrefix parses the address or range of a ban form, naming the field addr.
func banPrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, skjold.FieldError("addr", "required", "addr is required")
	}
	p, err := netguard.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, skjold.FieldError("addr", "ip", "addr must be an IPv4 or IPv6 address or CIDR prefix")
	}
	return p, nil
}

func containsAddr(p netip.Prefix, addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && p.Contains(a.Unmap())
}

// handleOpUnban lifts a ban. The address comes in the form, not the path: an address is
// personal data, and stays out of URLs and logs.
func (s *Server) handleOpUnban() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := banPrefix(strings.TrimSpace(r.PostForm.Get("addr")))
		if err == nil {
			err = s.svc.Network.Unban(r.Context(), p)
		}
		if err != nil {
			v := newOpView(r, "operator.network.title")
			v.FormError = v.T("operator.network.err_unban")
			s.opNetworkPage(w, r, statusOf(err), v)
			return
		}
		if s.svc.Shield != nil {
			s.svc.Shield.Guard.Unban(p)
		}
		http.Redirect(w, r, "/console/operator/network?m=op_unbanned", http.StatusSeeOther)
	})
}

func (s *Server) handleOpBlockList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := newOpView(r, "operator.network.title")
		text := r.PostForm.Get("text")
		list, err := netguard.ParseList(strings.NewReader(text))
		if err == nil {
			err = s.svc.Network.PutBlockList(r.Context(), list)
		}
		if err != nil {
			v.Form["text"] = text
			if f, _ := fieldOf(err); f == "cidr" {
				v.Errors["text"] = v.T("err.blocklist_cidr")
			} else {
				v.fail(err)
			}
			s.opNetworkPage(w, r, statusOf(err), v)
			return
		}
		s.syncShield(r)
		http.Redirect(w, r, "/console/operator/network?m=op_blocklist_saved", http.StatusSeeOther)
	})
}
