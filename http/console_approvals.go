package http

import (
	"net/http"
	"slices"

	"github.com/skjold-project/skjold"
)

// The console's approvals section [B14]: the queue of sensitive actions waiting for a
// second person, and the decisions. It calls the ApprovalService as the API's approval
// routes do, so that nobody approves their own request here either: the page does not
// offer it, and the service refuses it.

func init() {
	addConsoleSection(func(s *Server) []route {
		p := either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff)
		return []route{
			{"GET /console/approvals", p, s.handleConsoleApprovals()},
			{"POST /console/approvals/{id}/approve", p, s.handleConsoleApprovalDecide(true)},
			{"POST /console/approvals/{id}/reject", p, s.handleConsoleApprovalDecide(false)},
		}
	}, navItem{40, "/console/approvals", "nav.approvals", either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff)})
}

// approvalsPages is how many pages of approvals the queue reads at most: the waiting ones
// are among the newest, and each lapses after ApprovalLifetime.
const approvalsPages = 20

// approvalRow is one approval as the queue shows it, with the people's names.
type approvalRow struct {
	*skjold.Approval
	RequestedByName, DecidedByName string
	TargetName                     string // a user's name, for the actions on a user
	Mine                           bool   // filed by the reader: someone else decides it
}

// approvalsData is what the approvals page shows.
type approvalsData struct {
	Waiting, Decided []approvalRow
}

// findApprovals returns the approvals of the caller's tenant (or the operator's), all pages.
func (s *Server) findApprovals(r *http.Request) ([]*skjold.Approval, error) {
	var all []*skjold.Approval
	page := skjold.Page{Limit: skjold.MaxPageLimit}
	for range approvalsPages {
		items, err := s.svc.Approvals.FindApprovals(r.Context(), page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < page.Limit {
			break
		}
		page.After = items[len(items)-1].ID
	}
	return all, nil
}

// userNames returns the names of the users the reader may see, by id; none when the
// reader may not list users.
func (s *Server) userNames(r *http.Request) map[string]string {
	names := map[string]string{}
	users, err := s.svc.Auth.FindUsers(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
	if err != nil {
		return names
	}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	return names
}

// approvalsData builds the queue: pending ones first (oldest first), then the latest
// decided ones (newest first).
func (s *Server) approvalsData(r *http.Request) (*approvalsData, error) {
	all, err := s.findApprovals(r)
	if err != nil {
		return nil, err
	}
	names := s.userNames(r)
	me := consoleOf(r).id.User.ID
	d := &approvalsData{}
	for _, a := range all {
		row := approvalRow{Approval: a, RequestedByName: names[a.RequestedBy], DecidedByName: names[a.DecidedBy],
			TargetName: names[a.Target], Mine: a.RequestedBy == me}
		if a.Status == skjold.ApprovalPending {
			d.Waiting = append(d.Waiting, row) // a lapsed one shows its end; deciding it is refused
		} else {
			d.Decided = append(d.Decided, row)
		}
	}
	slices.Reverse(d.Decided)
	d.Decided = d.Decided[:min(len(d.Decided), 20)]
	return d, nil
}

func (s *Server) handleConsoleApprovals() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		d, err := s.approvalsData(r)
		if err != nil {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		v := cr.newView("approvals.title")
		v.Data = d
		s.render(w, r, http.StatusOK, "approvals", v)
	})
}

func (s *Server) handleConsoleApprovalDecide(approve bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		a, err := s.svc.Approvals.DecideApproval(r.Context(), r.PathValue("id"), approve)
		if err == nil {
			http.Redirect(w, r, "/console/approvals?m=approval_"+a.Status, http.StatusSeeOther)
			return
		}
		if code := skjold.ErrorCode(err); code == skjold.ENOTFOUND || code == skjold.EINTERNAL {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		v := cr.newView("approvals.title")
		switch skjold.ErrorCode(err) {
		case skjold.EFORBIDDEN:
			v.FormError = v.T("approvals.err.forbidden")
		case skjold.ECONFLICT:
			v.FormError = v.T("approvals.err.conflict")
		default:
			v.FormError = message(v.Cat, err)
		}
		d, derr := s.approvalsData(r)
		if derr != nil {
			s.consoleFail(w, r, cr.id, derr)
			return
		}
		v.Data = d
		s.render(w, r, statusOf(err), "approvals", v)
	})
}
