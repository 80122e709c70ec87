package storetest

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// person returns the context of a logged-in user (without going through a login).
func (e *env) person(u *skjold.User) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "user:" + u.ID, UserID: u.ID, TenantID: u.TenantID,
		Operator: u.Operator(), Role: u.Role, Scopes: skjold.RoleScopes(u.Operator(), u.Role), Source: "127.0.0.1"})
}

// mailsTo returns the decoded subject and body of each e-mail to addr in the outbox.
func (e *env) mailsTo(addr string) [][2]string {
	e.t.Helper()
	var out [][2]string
	files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		must(e.t, err)
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil || msg.Header.Get("To") != addr {
			continue
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
		out = append(out, [2]string{subject, string(body)})
	}
	return out
}

// TestGrantRequests checks the skjold.GrantRequestService: operator staff ask, the tenant's
// admins are told in their languages, approve (a real grant, by CreateGrant's rules) or deny
// with a reason, the requester sees the outcome, and an undecided request lapses in 24 h.
func TestGrantRequests(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Fjord Travel AS")
	other := e.newTenant("Other AS")
	sup, _ := e.newUser(e.staff(), &skjold.User{Email: "desk@operator.example", Name: "Desk Person", Role: skjold.RoleSupport})
	admin, _ := e.newUser(e.staff(), &skjold.User{TenantID: tn.ID, Email: "admin@fjord.example", Name: "Ada Admin", Role: skjold.RoleAdmin})
	owner, _ := e.newUser(e.staff(), &skjold.User{TenantID: tn.ID, Email: "owner@fjord.example", Name: "Ola Owner", Role: skjold.RoleOwner})
	agent, _ := e.newUser(e.staff(), &skjold.User{TenantID: tn.ID, Email: "agent@fjord.example", Name: "Agnes Agent", Role: skjold.RoleAgent})
	otherAdmin, _ := e.newUser(e.staff(), &skjold.User{TenantID: other.ID, Email: "admin@other.example", Name: "Oda Other", Role: skjold.RoleAdmin})
	must(t, e.db.SetLanguage(e.person(owner), "nb"))
	must(t, e.db.SetLanguage(e.person(admin), "pl"))
	for _, f := range func() []string { f, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml")); return f }() {
		os.Remove(f) // the accounts' own e-mails
	}
	asSup := e.person(sup)

	// Bad requests change nothing.
	for name, tc := range map[string]struct {
		ctx  context.Context
		r    skjold.GrantRequest
		code string
	}{
		"token":        {e.staff(), skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 7", Hours: 2}, skjold.EFORBIDDEN},
		"tenant staff": {e.person(admin), skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 7", Hours: 2}, skjold.EFORBIDDEN},
		"no reason":    {asSup, skjold.GrantRequest{TenantID: tn.ID, Reason: "", Hours: 2}, skjold.EINVALID},
		"over max":     {asSup, skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 7", Hours: 9}, skjold.EINVALID},
		"no tenant":    {asSup, skjold.GrantRequest{TenantID: "01900000-0000-7000-8000-000000000000", Reason: "ticket 7", Hours: 2}, skjold.ENOTFOUND},
	} {
		r := tc.r
		if err := e.db.RequestGrant(tc.ctx, &r); skjold.ErrorCode(err) != tc.code {
			t.Errorf("%s: RequestGrant = %v, want %s", name, err, tc.code)
		}
	}
	if rs, err := e.db.FindGrantRequests(asSup); err != nil || len(rs) != 0 {
		t.Fatalf("requests after refusals = %v, %v", rs, err)
	}

	r := &skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 4711: import fails", Hours: 4}
	must(t, e.db.RequestGrant(asSup, r))
	if r.Status != skjold.GrantRequestPending || !r.ExpiresAt.Equal(r.CreatedAt.Add(24*time.Hour)) || r.UserID != sup.ID {
		t.Errorf("filed request = %+v", r)
	}
	wantCode(t, e.db.RequestGrant(asSup, &skjold.GrantRequest{TenantID: tn.ID, Reason: "again", Hours: 1}), skjold.ECONFLICT)
	// The tenant's owner and admin are told, each in their language; the agent and the other
	// tenant are not.
	for addr, want := range map[string]string{"owner@fjord.example": "Fjord Travel AS", "admin@fjord.example": "Fjord Travel AS"} {
		got := e.mailsTo(addr)
		if len(got) != 1 || !strings.Contains(got[0][1], want) || !strings.Contains(got[0][1], "ticket 4711") {
			t.Errorf("e-mails to %s = %q", addr, got)
			continue
		}
		lang := map[string]string{"owner@fjord.example": "Grunn", "admin@fjord.example": "Podany powód"}[addr]
		if !strings.Contains(got[0][1], lang) {
			t.Errorf("e-mail to %s not in the person's language: %q", addr, got[0][1])
		}
	}
	if n := len(e.mailsTo("agent@fjord.example")) + len(e.mailsTo("admin@other.example")); n != 0 {
		t.Errorf("%d e-mails to people who cannot decide", n)
	}

	// Only the tenant's admins see and decide it.
	if rs, err := e.db.FindGrantRequests(e.person(admin)); err != nil || len(rs) != 1 || rs[0].RequestedBy != "Desk Person" {
		t.Errorf("tenant's requests = %+v, %v", rs, err)
	}
	if rs, err := e.db.FindGrantRequests(e.person(otherAdmin)); err != nil || len(rs) != 0 {
		t.Errorf("another tenant sees %+v, %v", rs, err)
	}
	_, err := e.db.FindGrantRequests(e.person(agent))
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.ApproveGrantRequest(e.person(otherAdmin), r.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.ApproveGrantRequest(e.person(agent), r.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.ApproveGrantRequest(e.as(tn, ""), r.ID) // a token, not a person
	wantCode(t, err, skjold.EFORBIDDEN)

	seq := e.lastSeq()
	g, err := e.db.ApproveGrantRequest(e.person(admin), r.ID)
	must(t, err)
	if g.UserID != sup.ID || g.TenantID != tn.ID || !g.ExpiresAt.Equal(g.CreatedAt.Add(4*time.Hour)) || g.GrantedBy != admin.ID {
		t.Errorf("grant = %+v", g)
	}
	if _, err := e.db.ActiveGrant(asSup, tn.ID, sup.ID); err != nil {
		t.Errorf("the approved grant is not live: %v", err)
	}
	var actions []string
	for _, ev := range e.events(seq) {
		actions = append(actions, ev.Action)
	}
	if strings.Join(actions, ",") != "grant.create,grant_request.approve" {
		t.Errorf("audit of the approval = %v", actions)
	}
	_, err = e.db.ApproveGrantRequest(e.person(owner), r.ID)
	wantCode(t, err, skjold.ECONFLICT)
	wantCode(t, e.db.DenyGrantRequest(e.person(owner), r.ID, "too late"), skjold.ECONFLICT)
	rs, err := e.db.FindGrantRequests(asSup)
	must(t, err)
	if len(rs) != 1 || rs[0].Status != skjold.GrantRequestApproved || rs[0].GrantID != g.ID || rs[0].TenantName != "Fjord Travel AS" {
		t.Errorf("requester's view after approval = %+v", rs[0])
	}

	// Denied with a reason the requester reads.
	r2 := &skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 4712", Hours: 1}
	must(t, e.db.RequestGrant(asSup, r2))
	wantCode(t, e.db.DenyGrantRequest(e.person(owner), r2.ID, ""), skjold.EINVALID)
	must(t, e.db.DenyGrantRequest(e.person(owner), r2.ID, "we fixed it ourselves"))
	rs, _ = e.db.FindGrantRequests(asSup)
	if rs[0].ID != r2.ID || rs[0].Status != skjold.GrantRequestDenied || rs[0].DenyReason != "we fixed it ourselves" {
		t.Errorf("requester's view after denial = %+v", rs[0])
	}

	// Undecided for 24 hours: expired, and no longer approvable.
	r3 := &skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 4713", Hours: 1}
	must(t, e.db.RequestGrant(asSup, r3))
	e.clock.Add(24*time.Hour + time.Second)
	_, err = e.db.ApproveGrantRequest(e.person(admin), r3.ID)
	wantCode(t, err, skjold.ECONFLICT)
	rs, _ = e.db.FindGrantRequests(asSup)
	if rs[0].ID != r3.ID || rs[0].Status != skjold.GrantRequestExpired {
		t.Errorf("an undecided request after 24 h = %+v", rs[0])
	}
	must(t, e.db.RequestGrant(asSup, &skjold.GrantRequest{TenantID: tn.ID, Reason: "ticket 4714", Hours: 1})) // a new one may be filed
}
