package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

// The sub-processor register [G2] and the tenants' data processing agreements [G1]. An
// agreement is written from live facts (DPAFacts); its version is the document.DataVersion
// of those facts, so a new sub-processor, category or purpose makes a new version, and the
// owner must accept it again before the G1 check passes.

const dpaScanField = "dpa_scan" // what a sealed scan is bound to, with the acceptance id

// SetProcessorHosts tells the store which hosts the installation hands data to (SMTP relay,
// SMS gateway, backup targets), for the G2 check.
func (db *DB) SetProcessorHosts(hosts []skjold.ProcessorHost) { db.processorHosts = hosts }

// SetSubprocessorNoticeDays sets how many days before a new sub-processor takes effect the
// tenant owners are e-mailed; 0 or less for skjold.DefaultSubprocessorNoticeDays.
func (db *DB) SetSubprocessorNoticeDays(days int) { db.subprocNoticeDays = days }

func (db *DB) noticeDays() int {
	if db.subprocNoticeDays <= 0 {
		return skjold.DefaultSubprocessorNoticeDays
	}
	return db.subprocNoticeDays
}

const selectSubprocessors = `SELECT id, name, service, purpose, location, hosts, contract_date, effective_date, created_at,
	notified_at FROM subprocessors`

func scanSubprocessor(s scanner) (*skjold.Subprocessor, error) {
	var p skjold.Subprocessor
	var hosts string
	var created int64
	var notified sql.NullInt64
	if err := s.Scan(&p.ID, &p.Name, &p.Service, &p.Purpose, &p.Location, &hosts, &p.Contract, &p.Effective, &created, &notified); err != nil {
		return nil, err
	}
	p.CreatedAt, p.NotifiedAt = fromMicros(created), optTime(notified)
	p.Objections = []*skjold.SubprocessorObjection{}
	return &p, json.Unmarshal([]byte(hosts), &p.Hosts)
}

// Subprocessors lists the register, oldest first, with the objections the caller may see.
func (db *DB) Subprocessors(ctx context.Context) ([]*skjold.Subprocessor, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	list, err := queryAll(ctx, db, scanSubprocessor, selectSubprocessors+" ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	q, args := `SELECT o.subprocessor_id, o.tenant_id, t.name, o.user_id, o.reason, o.created_at FROM subproc_objections o
		JOIN tenants t ON t.id = o.tenant_id`, []any{}
	if !c.Operator {
		q, args = q+" WHERE o.tenant_id = ?", append(args, c.TenantID)
	}
	type row struct {
		sub string
		o   *skjold.SubprocessorObjection
	}
	objs, err := queryAll(ctx, db, func(s scanner) (row, error) {
		var r row
		var at int64
		r.o = &skjold.SubprocessorObjection{}
		err := s.Scan(&r.sub, &r.o.TenantID, &r.o.TenantName, &r.o.UserID, &r.o.Reason, &at)
		r.o.CreatedAt = fromMicros(at)
		return r, err
	}, q+" ORDER BY o.created_at, o.tenant_id", args...)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		for _, r := range objs {
			if r.sub == p.ID {
				p.Objections = append(p.Objections, r.o)
			}
		}
	}
	return list, nil
}

// AddSubprocessor adds an entry to the register; the announcement job e-mails the owners.
func (db *DB) AddSubprocessor(ctx context.Context, p *skjold.Subprocessor) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	hosts, _ := json.Marshal(p.Hosts)
	now := db.now().UTC().Truncate(time.Microsecond)
	p.ID, p.CreatedAt, p.NotifiedAt, p.Objections = newID(), now, nil, []*skjold.SubprocessorObjection{}
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO subprocessors (id, name, service, purpose, location, hosts, contract_date, effective_date,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Name, p.Service, p.Purpose, p.Location, string(hosts),
			p.Contract, p.Effective, micros(now)); err != nil {
			return err
		}
		tx.audit(event(c, "subprocessor.add", "", "", []string{"subprocessor:" + p.ID}))
		return nil
	})
}

// RemoveSubprocessor removes an entry and the objections to it.
func (db *DB) RemoveSubprocessor(ctx context.Context, id string) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(id) {
		return errNotFound("sub-processor")
	}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM subprocessors WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("sub-processor")
		}
		if _, err := tx.exec("DELETE FROM subproc_objections WHERE subprocessor_id = ?", id); err != nil {
			return err
		}
		tx.audit(event(c, "subprocessor.remove", "", "", []string{"subprocessor:" + id}))
		return nil
	})
}

// ownerCaller returns the caller when it is a tenant's owner (a person), the one who signs
// for the tenant.
func ownerCaller(ctx context.Context, what string) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator || c.UserID == "" || c.Role != skjold.RoleOwner || !c.Can(skjold.ScopeAdmin):
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "%s is the tenant owner's to do, in person", what)
	}
	return c, nil
}

// ObjectToSubprocessor records the owner's objection to an entry, once per tenant.
func (db *DB) ObjectToSubprocessor(ctx context.Context, id, reason string) error {
	if skjold.CallerFromContext(ctx) == nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	// The register is public to every tenant: a missing entry is told before who may object.
	var n int
	if !skjold.ValidID(id) {
		return errNotFound("sub-processor")
	}
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM subprocessors WHERE id = ?", id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errNotFound("sub-processor")
	}
	c, err := ownerCaller(ctx, "objecting to a sub-processor")
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if err := skjold.CheckText("reason", reason, 0, 1000); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow("SELECT COUNT(*) FROM subproc_objections WHERE subprocessor_id = ? AND tenant_id = ?", id,
			c.TenantID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return skjold.Errorf(skjold.ECONFLICT, "your organisation has already objected to this sub-processor")
		}
		if _, err := tx.exec(`INSERT INTO subproc_objections (subprocessor_id, tenant_id, user_id, reason, created_at)
			VALUES (?, ?, ?, ?, ?)`, id, c.TenantID, c.UserID, reason, micros(db.now())); err != nil {
			return err
		}
		tx.audit(event(c, "subprocessor.object", "", "", []string{"subprocessor:" + id}))
		return nil
	})
}

// AnnounceSubprocessors e-mails every active tenant's owners about each entry that takes
// effect within the notice period and was not announced yet, each owner in their language,
// with a link to the register where they may object; it returns how many entries it
// announced. The background job calls it.
func (db *DB) AnnounceSubprocessors(ctx context.Context) (int, error) {
	now := db.now()
	horizon := now.UTC().AddDate(0, 0, db.noticeDays()).Format(time.DateOnly)
	var due []*skjold.Subprocessor
	err := db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(selectSubprocessors+" WHERE notified_at IS NULL AND effective_date <= ? ORDER BY created_at", horizon)
		if err != nil {
			return err
		}
		if due, err = collect(rows, scanSubprocessor); err != nil {
			return err
		}
		for _, p := range due {
			if _, err := tx.exec("UPDATE subprocessors SET notified_at = ? WHERE id = ?", micros(now), p.ID); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:subprocessors", Action: "subprocessor.announce", Source: "local",
				Fields: []string{"subprocessor:" + p.ID}})
		}
		return nil
	})
	if err != nil || len(due) == 0 || db.auth.Mailer == nil {
		return len(due), err
	}
	owners, err := queryAll(ctx, db, scanUser, selectUsers+` JOIN tenants t ON t.id = u.tenant_id
		WHERE t.status = ? AND u.role = ? AND u.suspended = 0 AND u.pending_email IS NULL ORDER BY u.id`,
		skjold.TenantActive, skjold.RoleOwner)
	if err != nil {
		return len(due), err
	}
	for _, p := range due {
		for _, o := range owners {
			cat := i18n.Mail(db.userLanguage(ctx, o.ID))
			body := mailBody(cat.T("subproc.mail.intro", "issuer", db.auth.Issuer, "effective", p.Effective),
				cat.T("subproc.mail.entry", "name", p.Name, "service", p.Service, "location", p.Location),
				cat.T("subproc.mail.purpose", "purpose", p.Purpose),
				cat.T("subproc.mail.object", "link", db.publicURL+"/console/subprocessors"),
				cat.T("subproc.mail.outro"))
			msg := skjold.Message{To: o.Email, Subject: cat.T("subproc.mail.subject", "issuer", db.auth.Issuer), Body: body}
			if err := db.auth.Mailer.Send(ctx, msg); err != nil {
				db.log.Error("sub-processor announcement not sent", "err", err) // no address: it is personal data
			}
		}
	}
	return len(due), nil
}

// dpaTenant returns the caller's tenant id when the caller is one of its administrators.
func dpaTenant(ctx context.Context) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator || !c.Can(skjold.ScopeAdmin):
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "the data processing agreement is shown to the tenant's administrators")
	}
	return c, nil
}

// dpaFacts reads what tenant's agreement is written from.
func (db *DB) dpaFacts(ctx context.Context, tenantID string) (*skjold.DPAFacts, error) {
	f := &skjold.DPAFacts{Processor: db.auth.Issuer, TenantID: tenantID, Subprocessors: []skjold.DPASubprocessor{},
		Categories: []skjold.DPACategory{}, Purposes: []string{}, Storage: db.engine, NoticeDays: db.noticeDays()}
	if err := db.queryRow(ctx, "SELECT name FROM tenants WHERE id = ?", tenantID).Scan(&f.Controller); err != nil {
		return nil, notFound(err, "tenant")
	}
	subs, err := queryAll(ctx, db, scanSubprocessor, selectSubprocessors+" ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	for _, p := range subs {
		f.Subprocessors = append(f.Subprocessors, skjold.DPASubprocessor{Name: p.Name, Service: p.Service, Purpose: p.Purpose,
			Location: p.Location, Effective: p.Effective})
	}
	cats, err := queryAll(ctx, db, func(s scanner) (*skjold.Category, error) {
		var def string
		if err := s.Scan(&def); err != nil {
			return nil, err
		}
		return decodeCategory(def)
	}, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", tenantID)
	if err != nil {
		return nil, err
	}
	for _, c := range cats {
		purposes := append([]string{}, c.Purposes...)
		sort.Strings(purposes)
		f.Categories = append(f.Categories, skjold.DPACategory{Name: c.Name, Purposes: purposes, LegalBasis: c.LegalBasis,
			Fields: len(c.Fields)})
	}
	if f.Purposes, err = queryAll(ctx, db, func(s scanner) (string, error) {
		var n string
		return n, s.Scan(&n)
	}, "SELECT name FROM purposes WHERE tenant_id = ? ORDER BY name", tenantID); err != nil {
		return nil, err
	}
	// The measures are the ones the tenant promised (its compliance profile); the compliance
	// check proves them against live state, so a setting changed within the promise needs
	// no new agreement.
	p, err := db.complianceProfile(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	f.Profile = *p
	return f, nil
}

const selectAcceptances = "SELECT id, version, method, user_id, accepted_at, scan_sha256, scan_size FROM dpa_acceptances"

func scanAcceptance(s scanner) (*skjold.DPAAcceptance, error) {
	var a skjold.DPAAcceptance
	var at int64
	var sum sql.NullString
	var size sql.NullInt64
	err := s.Scan(&a.ID, &a.Version, &a.Method, &a.UserID, &at, &sum, &size)
	a.AcceptedAt, a.ScanSHA256, a.ScanSize = fromMicros(at), sum.String, size.Int64
	return &a, err
}

// dpaStatus reads a tenant's agreement: its current version and the acceptances.
func (db *DB) dpaStatus(ctx context.Context, tenantID string) (*skjold.DPAStatus, error) {
	f, err := db.dpaFacts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	v, err := document.DataVersion(f)
	if err != nil {
		return nil, err
	}
	st := &skjold.DPAStatus{Version: v, Facts: f}
	if st.Acceptances, err = queryAll(ctx, db, scanAcceptance, selectAcceptances+
		" WHERE tenant_id = ? ORDER BY accepted_at DESC, id DESC", tenantID); err != nil {
		return nil, err
	}
	if len(st.Acceptances) > 0 {
		st.Accepted = st.Acceptances[0]
		st.Current = st.Accepted.Version == v
	}
	return st, nil
}

// DPA returns the caller's tenant's agreement.
func (db *DB) DPA(ctx context.Context) (*skjold.DPAStatus, error) {
	c, err := dpaTenant(ctx)
	if err != nil {
		return nil, err
	}
	return db.dpaStatus(ctx, c.TenantID)
}

// AcceptDPA records the owner's acceptance of the current version.
func (db *DB) AcceptDPA(ctx context.Context, version string) (*skjold.DPAAcceptance, error) {
	return db.acceptDPA(ctx, version, nil)
}

// UploadDPAScan records a signed scan of the current version as its acceptance.
func (db *DB) UploadDPAScan(ctx context.Context, version string, pdf []byte) (*skjold.DPAAcceptance, error) {
	switch {
	case len(pdf) == 0:
		return nil, skjold.FieldError("scan", "required", "scan is required: a PDF of the signed agreement")
	case len(pdf) > skjold.MaxDPAScan:
		return nil, skjold.FieldError("scan", "size", "scan must be at most 10 MB")
	case !bytes.HasPrefix(pdf, []byte("%PDF-")):
		return nil, skjold.FieldError("scan", "pdf", "scan must be a PDF file")
	}
	return db.acceptDPA(ctx, version, pdf)
}

func (db *DB) acceptDPA(ctx context.Context, version string, pdf []byte) (*skjold.DPAAcceptance, error) {
	c, err := ownerCaller(ctx, "accepting the data processing agreement")
	if err != nil {
		return nil, err
	}
	st, err := db.dpaStatus(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	if version != st.Version {
		return nil, skjold.Errorf(skjold.ECONFLICT, "the agreement has changed: version %s is current, read it again before you accept it", st.Version)
	}
	a := &skjold.DPAAcceptance{ID: newID(), Version: version, Method: skjold.DPAConsole, UserID: c.UserID,
		AcceptedAt: db.now().UTC().Truncate(time.Microsecond)}
	var wrapped, sealed []byte
	var sum, size any
	action := "dpa.accept"
	if pdf != nil {
		tk, err := db.tenantKey(ctx, c.TenantID)
		if err != nil {
			return nil, err
		}
		key, w, err := tk.NewSubjectKey(a.ID)
		if err != nil {
			return nil, err
		}
		if sealed, err = key.Seal("", dpaScanField, pdf); err != nil {
			return nil, err
		}
		h := sha256.Sum256(pdf)
		a.Method, a.ScanSHA256, a.ScanSize, wrapped = skjold.DPAScan, hex.EncodeToString(h[:]), int64(len(pdf)), w
		sum, size, action = a.ScanSHA256, a.ScanSize, "dpa.scan"
	}
	return a, db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO dpa_acceptances (id, tenant_id, version, method, user_id, accepted_at, scan_sha256,
			scan_size, scan_key, scan) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, c.TenantID, a.Version, a.Method, a.UserID,
			micros(a.AcceptedAt), sum, size, wrapped, sealed); err != nil {
			return err
		}
		tx.audit(event(c, action, "", "", []string{"dpa:" + a.ID, "version:" + a.Version}))
		return nil
	})
}

// DPAScan returns the signed scan of one of the caller's tenant's acceptances.
func (db *DB) DPAScan(ctx context.Context, id string) ([]byte, error) {
	c, err := dpaTenant(ctx)
	if err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errNotFound("signed scan")
	}
	var wrapped, sealed []byte
	err = db.queryRow(ctx, "SELECT scan_key, scan FROM dpa_acceptances WHERE id = ? AND tenant_id = ? AND scan IS NOT NULL",
		id, c.TenantID).Scan(&wrapped, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("signed scan")
	} else if err != nil {
		return nil, err
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	key, err := tk.OpenSubjectKey(id, wrapped)
	if err != nil {
		return nil, err
	}
	return key.Open("", dpaScanField, sealed)
}

// dpaFactsFor fills the G1 and G2 facts of a scope: the agreement's current version and
// the newest accepted one (tenants only), and the configured hosts no register entry covers.
func (db *DB) dpaComplianceFacts(ctx context.Context, tenantID string, f *skjold.ComplianceFacts) error {
	subs, err := queryAll(ctx, db, scanSubprocessor, selectSubprocessors+" ORDER BY created_at, id")
	if err != nil {
		return err
	}
	f.ProcessorHosts, f.UncoveredHosts = db.processorHosts, []skjold.ProcessorHost{}
	for _, h := range db.processorHosts {
		covered := false
		for _, p := range subs {
			covered = covered || p.Covers(h.Host)
		}
		if !covered {
			f.UncoveredHosts = append(f.UncoveredHosts, h)
		}
	}
	if tenantID == "" {
		return nil
	}
	st, err := db.dpaStatus(ctx, tenantID)
	if err != nil {
		return err
	}
	f.DPAVersion, f.DPAAccepted = st.Version, st.Accepted
	return nil
}
