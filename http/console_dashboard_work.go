package http

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The overview's facts from the requests and approvals sections: the open requests by due
// date (the overdue ones marked) and the approvals that wait for the reader, each shown
// only to the people whose role may open the section's page.

// dashboardShown is how many open requests the overview lists.
const dashboardShown = 8

// dashboardData is what the overview shows.
type dashboardData struct {
	Work  string        // message key of the work paragraph
	Pages []web.NavItem // the menu's pages beyond the overview and the person's own sessions

	ShowRequests bool
	Requests     []*skjold.Request // the open requests due first
	OpenCount    int
	OpenMore     bool // more open requests than were read
	Overdue      int

	ShowApprovals bool
	Approvals     []approvalRow // waiting for the reader's decision

	Facts *dashboardFacts // the safety facts (console_dashboard_facts.go), or nil
}

// dashboardWork adds the requests and approvals facts to the overview, for the sections
// the reader's role may open. A section that cannot be read is left out, not failed: the
// overview is for orientation, and each section's page reports its own errors.
func (s *Server) dashboardWork(r *http.Request, work string) *dashboardData {
	d := &dashboardData{Work: work, Facts: s.dashboardFacts(r)}
	c := skjold.CallerFromContext(r.Context())
	if tenant(skjold.ScopeRead).allows(c) == nil && s.svc.Requests != nil {
		f := skjold.RequestFilter{State: skjold.RequestOpen, Page: skjold.Page{Limit: skjold.MaxPageLimit}}
		if open, err := s.svc.Requests.FindRequests(r.Context(), f); err == nil {
			d.ShowRequests, d.OpenCount, d.OpenMore = true, len(open), len(open) == f.Limit
			slices.SortStableFunc(open, func(a, b *skjold.Request) int { return cmp.Compare(a.DueAt.UnixMicro(), b.DueAt.UnixMicro()) })
			for _, q := range open {
				if q.Overdue {
					d.Overdue++
				}
			}
			d.Requests = open[:min(len(open), dashboardShown)]
		}
	}
	if either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff).allows(c) == nil && s.svc.Approvals != nil {
		if a, err := s.approvalsData(r); err == nil {
			d.ShowApprovals = true
			for _, row := range a.Waiting {
				if !row.Mine {
					d.Approvals = append(d.Approvals, row)
				}
			}
		}
	}
	return d
}
