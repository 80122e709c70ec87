package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestDPA checks the sub-processor register [G2], the data processing agreements [G1] and
// the registers of copies and destroyed media [D3, D4].
func TestDPA(t *testing.T, h Harness) {
	t.Run("Reacceptance", func(t *testing.T) { testDPAReacceptance(t, h) })
	t.Run("Subprocessors", func(t *testing.T) { testSubprocessors(t, h) })
	t.Run("Scan", func(t *testing.T) { testDPAScan(t, h) })
	t.Run("UncoveredHosts", func(t *testing.T) { testUncoveredHosts(t, h) })
	t.Run("Registers", func(t *testing.T) { testRegisters(t, h) })
}

func dpaStatus(rep *skjold.ComplianceReport, tenantID, check string) string {
	for _, sc := range rep.Scopes {
		if sc.TenantID == tenantID {
			for _, ch := range sc.Checks {
				if ch.Check == check {
					return ch.Status
				}
			}
		}
	}
	return ""
}

func newSubprocessor(name, host, effective string) *skjold.Subprocessor {
	return &skjold.Subprocessor{Name: name, Service: "E-mail delivery", Purpose: "Sending notices to data subjects",
		Location: "Norway", Hosts: []string{host}, Contract: "2025-01-10", Effective: effective}
}

// testDPAReacceptance: G1 fails until the owner accepts; an admin may not; a stale version
// is refused; a new sub-processor makes a new version and G1 fails again until the owner
// accepts it; the acceptance is audited.
func testDPAReacceptance(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Asysto AS"), e.newTenant("MicroIT AS")
	_, owner := e.adminCtx(a, "owner@asysto.example", skjold.RoleOwner)
	_, admin := e.adminCtx(a, "admin@asysto.example", skjold.RoleAdmin)
	_, ownerB := e.adminCtx(b, "owner@microit.example", skjold.RoleOwner)

	rep, err := e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "dpa"); got != skjold.CheckFail {
		t.Fatalf("G1 before any acceptance = %q, want fail", got)
	}
	st, err := e.db.DPA(admin)
	must(t, err)
	if st.Current || st.Accepted != nil || len(st.Version) != 12 || st.Facts.Controller != "Asysto AS" {
		t.Fatalf("fresh agreement: %+v", st)
	}
	_, err = e.db.AcceptDPA(admin, st.Version)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.AcceptDPA(e.as(a, ""), st.Version)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.DPA(e.op)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.AcceptDPA(owner, "000000000000")
	wantCode(t, err, skjold.ECONFLICT)

	acc, err := e.db.AcceptDPA(owner, st.Version)
	must(t, err)
	if acc.Method != skjold.DPAConsole || acc.Version != st.Version {
		t.Errorf("acceptance = %+v", acc)
	}
	rep, err = e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "dpa"); got != skjold.CheckPass {
		t.Fatalf("G1 after the acceptance = %q, want pass\n%s", got, dumpReport(rep))
	}
	if got := dpaStatus(rep, b.ID, "dpa"); got != skjold.CheckFail {
		t.Errorf("G1 of the other tenant = %q, want fail (its owner accepted nothing)", got)
	}
	if st, _ := e.db.DPA(ownerB); st.Accepted != nil {
		t.Errorf("the other tenant sees an acceptance: %+v", st.Accepted)
	}

	// A new sub-processor is a new version: G1 fails until the owner accepts again.
	must(t, e.db.AddSubprocessor(e.op, newSubprocessor("Postkontoret AS", "smtp.postkontoret.example", "2025-06-01")))
	st2, err := e.db.DPA(owner)
	must(t, err)
	if st2.Version == st.Version || st2.Current || st2.Accepted.Version != st.Version {
		t.Fatalf("after a new sub-processor: version %s (was %s), current %v", st2.Version, st.Version, st2.Current)
	}
	rep, err = e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "dpa"); got != skjold.CheckFail {
		t.Fatalf("G1 after a new sub-processor = %q, want fail", got)
	}
	_, err = e.db.AcceptDPA(owner, st.Version)
	wantCode(t, err, skjold.ECONFLICT)
	_, err = e.db.AcceptDPA(owner, st2.Version)
	must(t, err)
	rep, err = e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "dpa"); got != skjold.CheckPass {
		t.Fatalf("G1 after accepting again = %q, want pass", got)
	}
	st3, _ := e.db.DPA(owner)
	if len(st3.Acceptances) != 2 || !st3.Current || st3.Facts.Subprocessors[0].Name != "Postkontoret AS" {
		t.Errorf("acceptances = %d, current %v, annex %+v", len(st3.Acceptances), st3.Current, st3.Facts.Subprocessors)
	}
	evs := e.auditActions(a.ID)
	if n := strings.Count(strings.Join(evs, " "), "dpa.accept"); n != 2 {
		t.Errorf("%d dpa.accept events, want 2: %v", n, evs)
	}
}

// auditActions returns the actions of the tenant's audit events, oldest first.
func (e *env) auditActions(tenantID string) []string {
	e.t.Helper()
	rows, err := e.raw().Query(e.rebind("SELECT action FROM audit_events WHERE tenant_id = ? ORDER BY seq"), tenantID)
	must(e.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		must(e.t, rows.Scan(&a))
		out = append(out, a)
	}
	return out
}

// testSubprocessors: only the operator adds and removes; bad input is refused and stores
// nothing; tenants see the register; owners are e-mailed the notice period ahead, in their
// language; an owner objects once, and the operator sees the objection, a tenant only its own.
func testSubprocessors(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Trainingbot Sp. z o.o."), e.newTenant("Asysto AS")
	ownerA, ctxA := e.adminCtx(a, "owner@trainingbot.example", skjold.RoleOwner)
	ownerB, ctxB := e.adminCtx(b, "owner@asysto.example", skjold.RoleOwner)
	_, adminA := e.adminCtx(a, "admin@trainingbot.example", skjold.RoleAdmin)
	must(t, e.db.SetLanguage(ctxA, "pl"))
	old, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range old {
		must(t, os.Remove(f))
	}
	e.db.SetSubprocessorNoticeDays(10)
	today := e.clock.Now().UTC()
	effective := today.AddDate(0, 0, 20).Format(time.DateOnly)

	wantCode(t, e.db.AddSubprocessor(ctxA, newSubprocessor("Sendgrid", "smtp.sendgrid.example", effective)), skjold.EFORBIDDEN)
	for _, bad := range []*skjold.Subprocessor{
		{Name: "", Service: "x", Purpose: "x", Location: "Norway", Contract: "2025-01-01", Effective: effective},
		{Name: "X", Service: "x", Purpose: "x", Location: "Norway", Contract: "01.01.2025", Effective: effective},
		{Name: "X", Service: "x", Purpose: "x", Location: "Norway", Contract: "2025-01-01", Effective: effective, Hosts: []string{"smtp host"}},
	} {
		if err := e.db.AddSubprocessor(e.op, bad); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("bad entry %+v: err = %v, want EINVALID", bad, err)
		}
	}
	if list, _ := e.db.Subprocessors(e.op); len(list) != 0 {
		t.Fatalf("refused entries stored: %+v", list)
	}
	p := newSubprocessor("Sendgrid", "SMTP.Sendgrid.example", effective)
	must(t, e.db.AddSubprocessor(e.op, p))
	list, err := e.db.Subprocessors(adminA)
	must(t, err)
	if len(list) != 1 || list[0].Name != "Sendgrid" || !slices.Equal(list[0].Hosts, []string{"smtp.sendgrid.example"}) {
		t.Fatalf("tenant sees %+v", list)
	}

	if n, err := e.db.AnnounceSubprocessors(t.Context()); err != nil || n != 0 {
		t.Fatalf("20 days ahead with 10 days' notice: announced %d, %v; want none yet", n, err)
	}
	e.clock.Add(11 * 24 * time.Hour)
	if n, err := e.db.AnnounceSubprocessors(t.Context()); err != nil || n != 1 {
		t.Fatalf("within the notice: announced %d, %v; want 1", n, err)
	}
	mails := e.outboxByRecipient()
	if got := mails[ownerA.Email]; !strings.Contains(got, "nowy podprocesor") || !strings.Contains(got, "Sendgrid") ||
		!strings.Contains(got, "/console/subprocessors") {
		t.Errorf("owner A's notice (Polish):\n%s", got)
	}
	if got := mails[ownerB.Email]; !strings.Contains(got, "a new sub-processor") || !strings.Contains(got, effective) {
		t.Errorf("owner B's notice (English):\n%s", got)
	}
	if len(mails) != 2 {
		t.Errorf("%d e-mails, want one per owner", len(mails))
	}
	if n, _ := e.db.AnnounceSubprocessors(t.Context()); n != 0 {
		t.Errorf("announced again: %d", n)
	}

	wantCode(t, e.db.ObjectToSubprocessor(adminA, p.ID, "no"), skjold.EFORBIDDEN)
	wantCode(t, e.db.ObjectToSubprocessor(ctxA, "01900000-0000-7000-8000-000000000000", ""), skjold.ENOTFOUND)
	wantCode(t, e.db.ObjectToSubprocessor(ctxA, p.ID, strings.Repeat("x", 1001)), skjold.EINVALID)
	must(t, e.db.ObjectToSubprocessor(ctxA, p.ID, "Data must stay in the EEA"))
	wantCode(t, e.db.ObjectToSubprocessor(ctxA, p.ID, "again"), skjold.ECONFLICT)
	list, _ = e.db.Subprocessors(e.op)
	if len(list[0].Objections) != 1 || list[0].Objections[0].TenantName != "Trainingbot Sp. z o.o." ||
		list[0].Objections[0].Reason != "Data must stay in the EEA" {
		t.Errorf("operator sees objections %+v", list[0].Objections)
	}
	if list, _ := e.db.Subprocessors(ctxB); len(list[0].Objections) != 0 {
		t.Errorf("another tenant sees objections %+v", list[0].Objections)
	}

	wantCode(t, e.db.RemoveSubprocessor(ctxA, p.ID), skjold.EFORBIDDEN)
	wantCode(t, e.db.RemoveSubprocessor(e.op, "01900000-0000-7000-8000-000000000000"), skjold.ENOTFOUND)
	must(t, e.db.RemoveSubprocessor(e.op, p.ID))
	if list, _ := e.db.Subprocessors(e.op); len(list) != 0 {
		t.Errorf("after removal: %+v", list)
	}
}

// testDPAScan: a signed scan is an acceptance; it is stored sealed (the stored bytes do
// not hold the PDF), its SHA-256 is kept, it comes back whole to its tenant only; a file
// that is no PDF or too large is refused and stores nothing.
func testDPAScan(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Asysto AS"), e.newTenant("MicroIT AS")
	_, owner := e.adminCtx(a, "owner@asysto.example", skjold.RoleOwner)
	_, ownerB := e.adminCtx(b, "owner@microit.example", skjold.RoleOwner)
	st, err := e.db.DPA(owner)
	must(t, err)
	pdf := []byte("%PDF-1.4\nsigned by Asysto AS, Ola Nordmann\n%%EOF\n")
	_, err = e.db.UploadDPAScan(owner, st.Version, []byte("GIF89a"))
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.UploadDPAScan(owner, st.Version, append([]byte("%PDF-"), make([]byte, skjold.MaxDPAScan)...))
	wantCode(t, err, skjold.EINVALID)
	if st, _ := e.db.DPA(owner); len(st.Acceptances) != 0 {
		t.Fatalf("refused scans stored: %+v", st.Acceptances)
	}
	acc, err := e.db.UploadDPAScan(owner, st.Version, pdf)
	must(t, err)
	sum := sha256.Sum256(pdf)
	if acc.Method != skjold.DPAScan || acc.ScanSHA256 != hex.EncodeToString(sum[:]) || acc.ScanSize != int64(len(pdf)) {
		t.Errorf("scan acceptance = %+v", acc)
	}
	var stored []byte
	must(t, e.raw().QueryRow(e.rebind("SELECT scan FROM dpa_acceptances WHERE id = ?"), acc.ID).Scan(&stored))
	if bytes.Contains(stored, []byte("Nordmann")) || bytes.Contains(stored, []byte("%PDF")) {
		t.Error("the scan is stored in the clear")
	}
	got, err := e.db.DPAScan(owner, acc.ID)
	must(t, err)
	if !bytes.Equal(got, pdf) {
		t.Errorf("scan back = %q", got)
	}
	_, err = e.db.DPAScan(ownerB, acc.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	rep, err := e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "dpa"); got != skjold.CheckPass {
		t.Errorf("G1 after a signed scan = %q, want pass", got)
	}
}

// testUncoveredHosts: G2 is not configured without relays or targets, fails while a
// configured host is on no entry, and passes once an entry lists it (or a parent domain).
func testUncoveredHosts(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := e.newTenant("Asysto AS")
	rep, err := e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, "", "subprocessors"); got != skjold.CheckNotConfigured {
		t.Fatalf("G2 without hosts = %q, want not configured", got)
	}
	e.db.SetProcessorHosts([]skjold.ProcessorHost{{Role: "smtp_relay", Host: "smtp.relay.example"},
		{Role: "backup_s3", Host: "s3.eu-north-1.amazonaws.com"}})
	defer e.db.SetProcessorHosts(nil)
	must(t, e.db.AddSubprocessor(e.op, newSubprocessor("Relay AS", "smtp.relay.example", "2025-01-01")))
	rep, err = e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, a.ID, "subprocessors"); got != skjold.CheckFail {
		t.Fatalf("G2 with an uncovered S3 host = %q, want fail\n%s", got, dumpReport(rep))
	}
	if !strings.Contains(dumpReport(rep), "backup_s3 s3.eu-north-1.amazonaws.com: not on any sub-processor entry") {
		t.Errorf("evidence does not name the uncovered host:\n%s", dumpReport(rep))
	}
	aws := newSubprocessor("Amazon Web Services EMEA SARL", "amazonaws.com", "2025-01-01")
	aws.Location = "Sweden (Stockholm)"
	must(t, e.db.AddSubprocessor(e.op, aws))
	rep, err = e.db.Compliance(e.op)
	must(t, err)
	if got := dpaStatus(rep, "", "subprocessors"); got != skjold.CheckPass {
		t.Errorf("G2 with both hosts covered = %q, want pass\n%s", got, dumpReport(rep))
	}
}

// testRegisters: copies and destroyed media per tenant (and the operator's own), bad input
// refused, reminders once a day until the deletion is confirmed, certificates sealed.
func testRegisters(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("MicroIT AS"), e.newTenant("Asysto AS")
	owner, ownerCtx := e.adminCtx(a, "owner@microit.example", skjold.RoleOwner)
	admin, adminCtx := e.adminCtx(a, "admin@microit.example", skjold.RoleAdmin)
	must(t, e.db.SetLanguage(adminCtx, "nb"))
	agent := &skjold.User{TenantID: a.ID, Email: "agent@microit.example", Name: "Agent", Role: skjold.RoleAgent}
	e.activeUser(ownerCtx, agent)
	e.clock.Add(30 * time.Second)
	_, agentCtx := e.login(agent.Email, goodPassword, "")
	old, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range old {
		must(t, os.Remove(f))
	}
	today := e.clock.Now().UTC().Format(time.DateOnly)

	_, err := e.db.Copies(agentCtx)
	wantCode(t, err, skjold.EFORBIDDEN)
	for _, bad := range []*skjold.DataCopy{
		{What: "", Recipient: "Lab AS", HandedOver: today},
		{What: "Disk image", Recipient: "Lab AS", HandedOver: "yesterday"},
		{What: "Disk image", Recipient: "Lab AS", HandedOver: today, DeleteBy: today},
	} {
		if err := e.db.RecordCopy(adminCtx, bad); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("bad copy %+v: err = %v, want EINVALID", bad, err)
		}
	}
	cp := &skjold.DataCopy{What: "Recovered mailbox of the sales department", Recipient: "Asysto AS, IT department", HandedOver: today}
	must(t, e.db.RecordCopy(adminCtx, cp))
	want := e.clock.Now().UTC().AddDate(0, 0, skjold.CopyDeleteDays).Format(time.DateOnly)
	if cp.DeleteBy != want {
		t.Errorf("default delete-by = %s, want %s", cp.DeleteBy, want)
	}
	opCopy := &skjold.DataCopy{What: "Operator's own copy", Recipient: "Auditor", HandedOver: today}
	must(t, e.db.RecordCopy(e.op, opCopy))
	if list, _ := e.db.Copies(e.as(b, "")); len(list) != 0 {
		t.Errorf("another tenant sees copies: %+v", list)
	}
	if list, _ := e.db.Copies(e.op); len(list) != 1 || list[0].ID != opCopy.ID {
		t.Errorf("the operator's register = %+v", list)
	}

	if n, err := e.db.RemindCopies(t.Context()); err != nil || n != 0 {
		t.Fatalf("reminded %d, %v on the day of the hand-over", n, err)
	}
	e.clock.Add(13*24*time.Hour + time.Hour) // the day before the delete-by date
	n, err := e.db.RemindCopies(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("reminded %d, %v; want 2 (the tenant's copy and the operator's)", n, err)
	}
	mails := e.outboxByRecipient()
	if got := mails[admin.Email]; !strings.Contains(got, "skal slettes") || !strings.Contains(got, "Recovered mailbox") {
		t.Errorf("admin's reminder (Norwegian):\n%s", got)
	}
	if got := mails[owner.Email]; !strings.Contains(got, "due for deletion") {
		t.Errorf("owner's reminder (English):\n%s", got)
	}
	if n, _ := e.db.RemindCopies(t.Context()); n != 0 {
		t.Errorf("reminded again within the day: %d", n)
	}
	_, err = e.db.ConfirmCopyDeleted(e.as(b, ""), cp.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	done, err := e.db.ConfirmCopyDeleted(adminCtx, cp.ID)
	must(t, err)
	if done.DeletedAt == nil {
		t.Errorf("confirmed copy = %+v", done)
	}
	_, err = e.db.ConfirmCopyDeleted(adminCtx, cp.ID)
	wantCode(t, err, skjold.ECONFLICT)
	e.clock.Add(25 * time.Hour)
	if n, _ := e.db.RemindCopies(t.Context()); n != 1 {
		t.Errorf("next day: reminded %d, want 1 (only the operator's unconfirmed copy)", n)
	}

	wantCode(t, e.db.RecordMedium(adminCtx, &skjold.DestroyedMedium{What: "Disk", Method: "", DestroyedBy: "x", Witness: "y",
		DestroyedOn: today}), skjold.EINVALID)
	m := &skjold.DestroyedMedium{What: "Backup disk WD-1234", Method: "Shredded", DestroyedBy: "Stena Recycling AS",
		Witness: "Head of IT", DestroyedOn: today}
	must(t, e.db.RecordMedium(adminCtx, m))
	_, err = e.db.AttachCertificate(adminCtx, m.ID, []byte("not a pdf"))
	wantCode(t, err, skjold.EINVALID)
	pdf := []byte("%PDF-1.7\ncertificate of destruction WD-1234\n%%EOF\n")
	_, err = e.db.AttachCertificate(e.as(b, ""), m.ID, pdf)
	wantCode(t, err, skjold.ENOTFOUND)
	got, err := e.db.AttachCertificate(adminCtx, m.ID, pdf)
	must(t, err)
	sum := sha256.Sum256(pdf)
	if got.CertSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("certificate sha = %s", got.CertSHA256)
	}
	var stored []byte
	must(t, e.raw().QueryRow(e.rebind("SELECT certificate FROM register_media WHERE id = ?"), m.ID).Scan(&stored))
	if bytes.Contains(stored, []byte("WD-1234")) {
		t.Error("the certificate is stored in the clear")
	}
	back, err := e.db.Certificate(adminCtx, m.ID)
	if err != nil || !bytes.Equal(back, pdf) {
		t.Errorf("certificate back: %q, %v", back, err)
	}
	_, err = e.db.Certificate(e.as(b, ""), m.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	om := &skjold.DestroyedMedium{What: "Server disk", Method: "Degaussed", DestroyedBy: "Operator", Witness: "CTO", DestroyedOn: today}
	must(t, e.db.RecordMedium(e.op, om))
	_, err = e.db.AttachCertificate(e.op, om.ID, pdf)
	must(t, err)
	if back, err := e.db.Certificate(e.op, om.ID); err != nil || !bytes.Equal(back, pdf) {
		t.Errorf("operator's certificate back: %q, %v", back, err)
	}
}
