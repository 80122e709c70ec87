package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.RequestService = (*DB)(nil)

// openStatuses are the statuses of a request that is not closed.
var openStatuses = []string{skjold.StatusReceived, skjold.StatusAwaitingVerification, skjold.StatusInProgress,
	skjold.StatusAwaitingApproval, skjold.StatusExtended}

// allStatuses are the statuses a request filter may name.
var allStatuses = append(slices.Clone(openStatuses), skjold.StatusCompleted, skjold.StatusRefused)

const selectRequests = `SELECT id, tenant_id, subject_id, type, status, purpose, received_at, due_at, extension_reason,
	refusal_code, refusal_note, verified_at, closed_at, result, created_by FROM requests`

// requestRow is a stored request with the tenant it belongs to.
type requestRow struct {
	skjold.Request
	tenantID string
}

func scanRequest(s scanner) (*requestRow, error) {
	var r requestRow
	var received, due int64
	var verified, closed sql.NullInt64
	var result string
	err := s.Scan(&r.ID, &r.tenantID, &r.SubjectID, &r.Type, &r.Status, &r.Purpose, &received, &due,
		&r.ExtensionReason, &r.RefusalCode, &r.RefusalNote, &verified, &closed, &result, &r.CreatedBy)
	if err != nil {
		return nil, err
	}
	r.ReceivedAt, r.DueAt = fromMicros(received), fromMicros(due)
	r.VerifiedAt, r.ClosedAt = optTime(verified), optTime(closed)
	if result != "" {
		r.Result = &skjold.RequestResult{}
		if err := json.Unmarshal([]byte(result), r.Result); err != nil {
			return nil, fmt.Errorf("store: request %s: result does not decode: %w", r.ID, err)
		}
	}
	return &r, nil
}

// withOverdue sets Overdue as of now and returns the request.
func (r *requestRow) withOverdue(now time.Time) *skjold.Request {
	r.Overdue = !r.Closed() && r.DueAt.Before(now)
	return &r.Request
}

// requestCaller returns the tenant caller of ctx if it holds scope.
func requestCaller(ctx context.Context, scope string) (*skjold.Caller, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Can(scope) {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q scope", scope)
	}
	return c, nil
}

func errRequestNotFound() error { return errNotFound("request") }

// OpenRequest finds the subject by exactly one of e-mail, phone or ref, stores the request
// as awaiting verification, due one month after receipt, and e-mails a one-time code to the
// subject's address on file [C8]. The code itself is stored only as its SHA-256.
func (db *DB) OpenRequest(ctx context.Context, r *skjold.Request, who skjold.SubjectLookup) error {
	c, err := requestCaller(ctx, skjold.ScopeWrite)
	if err != nil {
		return err
	}
	if err := db.checkNewRequest(ctx, c.TenantID, r); err != nil {
		return err
	}
	if db.auth.Mailer == nil {
		return skjold.Errorf(skjold.EINTERNAL, "e-mail is not configured on this store: requests cannot be verified")
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return err
	}
	sub, err := db.lookupSubject(ctx, c.TenantID, tk, who)
	if err != nil {
		return err
	}
	if !db.canSendCode(sub) {
		return skjold.Errorf(skjold.ECONFLICT, "the subject has no e-mail address (or, where SMS is configured, phone number) on file, so the requester's identity cannot be verified by code: add the address first")
	}
	code, hash := newCode()
	now := db.now().UTC().Truncate(time.Microsecond)
	*r = skjold.Request{ID: newID(), SubjectID: sub.ID, Type: r.Type, Purpose: r.Purpose,
		Status: skjold.StatusAwaitingVerification, ReceivedAt: now,
		DueAt: addMonths(now, skjold.RequestDeadlineMonths), CreatedBy: c.Actor}
	err = db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO requests (id, tenant_id, subject_id, type, status, purpose, received_at, due_at,
			code_hash, code_expires_at, codes_sent, created_by, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
			r.ID, c.TenantID, r.SubjectID, r.Type, r.Status, r.Purpose, micros(now), micros(r.DueAt),
			hash, micros(now.Add(codeLifetime)), c.Actor, newRequestLanguage(ctx))
		tx.audit(event(c, "request.open", r.SubjectID, "", []string{"type:" + r.Type}))
		return err
	})
	if err != nil {
		return err
	}
	return db.sendCodeTo(ctx, c.TenantID, r, sub, code)
}

// checkNewRequest validates a new request's type and, for a consent withdrawal, that its
// purpose is in the tenant's register.
func (db *DB) checkNewRequest(ctx context.Context, tenantID string, r *skjold.Request) error {
	if err := skjold.ValidateRequestType(r.Type); err != nil {
		return err
	}
	if r.Type != skjold.RequestConsentWithdraw {
		if r.Purpose != "" {
			return skjold.FieldError("purpose", "unexpected", "purpose is only given with a consent_withdrawal request")
		}
		return nil
	}
	if r.Purpose == "" {
		return skjold.FieldError("purpose", "required", "a consent_withdrawal request names the purpose whose consent is withdrawn")
	}
	var n int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM purposes WHERE tenant_id = ? AND name = ?", tenantID, r.Purpose).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return skjold.FieldError("purpose", "unknown", "purpose is not in this tenant's purpose register")
	}
	return nil
}

// lookupSubject finds the one subject of the tenant named by exactly one of e-mail, phone or
// ref, through the blind indexes, and opens its profile.
func (db *DB) lookupSubject(ctx context.Context, tenantID string, tk skjold.TenantKey, who skjold.SubjectLookup) (*skjold.Subject, error) {
	var col, kind, value string
	n := 0
	for _, l := range [3][3]string{{"email_idx", skjold.LookupEmail, who.Email}, {"phone_idx", skjold.LookupPhone, who.Phone}, {"ref_idx", skjold.LookupRef, who.Ref}} {
		if l[2] != "" {
			n++
			col, kind, value = l[0], l[1], l[2]
		}
	}
	if n != 1 {
		return nil, skjold.FieldError("email", "lookup", "name the subject by exactly one of email, phone or ref")
	}
	if !skjold.ValidLookup(value) {
		return nil, skjold.FieldError(kind, "lookup", "%s is not a valid lookup value", kind)
	}
	rows, err := queryAll(ctx, db, scanSubjectRow, selectSubjects+" WHERE tenant_id = ? AND "+col+" = ? ORDER BY id LIMIT 2",
		tenantID, tk.BlindIndex(kind, skjold.NormalizeLookup(kind, value)))
	switch {
	case err != nil:
		return nil, err
	case len(rows) == 0:
		return nil, skjold.Errorf(skjold.ENOTFOUND, "no subject matches")
	case len(rows) > 1:
		return nil, skjold.Errorf(skjold.ECONFLICT, "more than one subject matches: name the subject by ref")
	}
	s, _, err := rows[0].open(tk)
	return s, err
}

// subjectProfile opens one subject of the tenant, for the store's own use (its e-mail
// address); it is not a read on anyone's behalf and is not audited.
func (db *DB) subjectProfile(ctx context.Context, tenantID string, tk skjold.TenantKey, id string) (*skjold.Subject, skjold.SubjectKey, error) {
	var r subjectRow
	if err := r.scan(db.queryRow(ctx, selectSubjects+" WHERE id = ? AND tenant_id = ?", id, tenantID)); err != nil {
		return nil, nil, notFoundAs(err, skjold.Errorf(skjold.ECONFLICT, "the request's subject no longer exists"))
	}
	return r.open(tk)
}

// tenantRequest reads one request of the tenant.
func (db *DB) tenantRequest(ctx context.Context, tenantID, id string) (*requestRow, error) {
	if !skjold.ValidID(id) {
		return nil, errRequestNotFound()
	}
	r, err := scanRequest(db.queryRow(ctx, qRequestByID, id, tenantID))
	if err != nil {
		return nil, notFound(err, "request")
	}
	return r, nil
}

// answer reads a request back after a change, for the changing caller's answer.
func (db *DB) answer(ctx context.Context, tenantID, id string) (*skjold.Request, error) {
	r, err := db.tenantRequest(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	return r.withOverdue(db.now()), nil
}

// FindRequestByID returns one request of the caller's tenant.
func (db *DB) FindRequestByID(ctx context.Context, id string) (*skjold.Request, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	r, err := db.tenantRequest(ctx, c.TenantID, id)
	if err != nil {
		return nil, err
	}
	return r.withOverdue(db.now()), nil
}

// FindRequests returns the caller's tenant's requests of the type and status, open or
// closed, and only the open ones past their due date when f.Overdue is set, ordered by id.
func (db *DB) FindRequests(ctx context.Context, f skjold.RequestFilter) ([]*skjold.Request, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	if err := f.Page.Normalize(); err != nil {
		return nil, err
	}
	// Without filters, the query is qRequestsPage (see plan.go).
	q, args := selectRequests+" WHERE tenant_id = ? AND id > ?", []any{c.TenantID, f.After}
	if f.Status != "" {
		if !slices.Contains(allStatuses, f.Status) {
			return nil, skjold.FieldError("status", "enum", "status must be one of %s", strings.Join(allStatuses, ", "))
		}
		q, args = q+" AND status = ?", append(args, f.Status)
	}
	if f.Type != "" {
		if !slices.Contains(skjold.RequestTypes, f.Type) {
			return nil, skjold.FieldError("type", "enum", "type must be one of %s", strings.Join(skjold.RequestTypes, ", "))
		}
		q, args = q+" AND type = ?", append(args, f.Type)
	}
	switch f.State {
	case "":
	case skjold.RequestOpen:
		q += " AND closed_at IS NULL"
	case skjold.RequestClosed:
		q += " AND closed_at IS NOT NULL"
	default:
		return nil, skjold.FieldError("state", "enum", "state must be %s or %s", skjold.RequestOpen, skjold.RequestClosed)
	}
	now := db.now()
	if f.Overdue {
		q, args = q+" AND closed_at IS NULL AND due_at < ?", append(args, micros(now))
	}
	rows, err := queryAll(ctx, db, scanRequest, q+" ORDER BY id LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	out := make([]*skjold.Request, len(rows))
	for i, r := range rows {
		out[i] = r.withOverdue(now)
	}
	return out, nil
}

// ExtendRequest moves an open request's due date by months, up to MaxExtensionMonths beyond
// the first month in all, and keeps the reason. An overdue alert may be raised again for
// the new due date.
func (db *DB) ExtendRequest(ctx context.Context, id string, months int, reason string) (*skjold.Request, error) {
	c, err := requestCaller(ctx, skjold.ScopeWrite)
	if err != nil {
		return nil, err
	}
	if err := skjold.ValidateExtension(months, reason); err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errRequestNotFound()
	}
	reason = strings.TrimSpace(reason)
	err = db.write(ctx, func(tx *Tx) error {
		r, err := tx.openRequest(c.TenantID, id)
		if err != nil {
			return err
		}
		used := extendedMonths(r.ReceivedAt, r.DueAt)
		if used+months > skjold.MaxExtensionMonths {
			return skjold.FieldError("months", "range", "a request can be extended by at most %d months in all; %d already used",
				skjold.MaxExtensionMonths, used)
		}
		if r.ExtensionReason != "" {
			reason = r.ExtensionReason + "\n" + reason
		}
		due := addMonths(r.ReceivedAt, skjold.RequestDeadlineMonths+used+months)
		tx.audit(event(c, "request.extend", r.SubjectID, "", []string{fmt.Sprintf("months:%d", months)}))
		_, err = tx.exec(`UPDATE requests SET status = ?, due_at = ?, extension_reason = ?, overdue_at = NULL WHERE id = ?`,
			skjold.StatusExtended, micros(due), reason, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := db.answer(ctx, c.TenantID, id)
	if err == nil {
		db.tellSubject(ctx, c.TenantID, out)
	}
	return out, err
}

// extendedMonths returns by how many months a due date lies beyond the first deadline.
func extendedMonths(received, due time.Time) int {
	for k := skjold.MaxExtensionMonths; k > 0; k-- {
		if !due.Before(addMonths(received, skjold.RequestDeadlineMonths+k)) {
			return k
		}
	}
	return 0
}

// addMonths returns t n calendar months later; where that month has no such day (31 January
// plus one month), the last day of that month, not a day of the month after.
func addMonths(t time.Time, n int) time.Time {
	d := t.AddDate(0, n, 0)
	if d.Day() != t.Day() {
		d = d.AddDate(0, 0, -d.Day())
	}
	return d
}

// openRequest reads an open request of the tenant inside a write: ENOTFOUND when there is
// none, ECONFLICT when it is closed.
func (tx *Tx) openRequest(tenantID, id string) (*requestRow, error) {
	r, err := scanRequest(tx.queryRow(selectRequests+" WHERE id = ? AND tenant_id = ?", id, tenantID))
	if err != nil {
		return nil, notFound(err, "request")
	}
	if r.Closed() {
		return nil, skjold.Errorf(skjold.ECONFLICT, "the request is already closed (%s)", r.Status)
	}
	return r, nil
}

// RefuseRequest closes an open request as refused, with a reason code and a note.
func (db *DB) RefuseRequest(ctx context.Context, id, code, note string) (*skjold.Request, error) {
	c, err := requestCaller(ctx, skjold.ScopeWrite)
	if err != nil {
		return nil, err
	}
	if err := skjold.ValidateRefusal(code, note); err != nil {
		return nil, err
	}
	if !skjold.ValidID(id) {
		return nil, errRequestNotFound()
	}
	err = db.write(ctx, func(tx *Tx) error {
		r, err := tx.openRequest(c.TenantID, id)
		if err != nil {
			return err
		}
		tx.audit(event(c, "request.refuse", r.SubjectID, "", []string{"code:" + code}))
		_, err = tx.exec(`UPDATE requests SET status = ?, refusal_code = ?, refusal_note = ?, closed_at = ?, code_hash = NULL
			WHERE id = ?`, skjold.StatusRefused, code, strings.TrimSpace(note), micros(db.now()), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := db.answer(ctx, c.TenantID, id)
	if err == nil {
		db.tellSubject(ctx, c.TenantID, out)
	}
	return out, err
}

// FlagOverdueRequests marks the open requests past their due date that have not been
// flagged yet, and appends a "request.overdue" event for each (which the alert dispatcher
// forwards). It returns how many it flagged. The server's scheduler runs it.
func (db *DB) FlagOverdueRequests(ctx context.Context) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		rows, err := tx.query(`SELECT id, tenant_id FROM requests WHERE status IN (?, ?, ?, ?, ?) AND due_at < ?
			AND overdue_at IS NULL ORDER BY id LIMIT 1000`, openStatuses[0], openStatuses[1], openStatuses[2],
			openStatuses[3], openStatuses[4], now)
		if err != nil {
			return err
		}
		due, err := collect(rows, func(s scanner) ([2]string, error) { var v [2]string; return v, s.Scan(&v[0], &v[1]) })
		if err != nil {
			return err
		}
		for _, r := range due {
			if _, err := tx.exec("UPDATE requests SET overdue_at = ? WHERE id = ?", now, r[0]); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:requests", TenantID: r[1], Action: "request.overdue",
				Fields: []string{"request:" + r[0]}})
		}
		n = len(due)
		return nil
	})
	return n, err
}

// CompleteRequest carries out a verified, open request and closes it as completed. Only one
// completion of a request runs at a time on this node, and the closing write refuses a
// request closed meanwhile. What the request did is kept as its result, without personal
// values; an access package's link is shown in the answer only.
func (db *DB) CompleteRequest(ctx context.Context, id string, fix *skjold.Rectification) (*skjold.Request, error) {
	c, err := requestCaller(ctx, skjold.ScopeWrite)
	if err != nil {
		return nil, err
	}
	release, err := db.attempts.begin("request:" + id)
	if err != nil {
		return nil, skjold.Errorf(skjold.ECONFLICT, "this request is being completed already")
	}
	defer release()
	r, err := db.tenantRequest(ctx, c.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := checkCompletable(r, fix); err != nil {
		return nil, err
	}
	done, err := db.carryOut(ctx, c, r, fix)
	if err != nil {
		return nil, err
	}
	if err := db.closeCompleted(ctx, c, r, done); err != nil {
		return nil, err
	}
	if done.after != nil {
		if err := done.after(ctx); err != nil {
			return nil, err
		}
	}
	out, err := db.answer(ctx, c.TenantID, id)
	if err == nil && done.link != "" {
		out.Result.DownloadURL = done.link
	}
	return out, err
}

// closeCompleted closes a carried-out request as completed, with its result and the
// completion's own step, in one write that refuses a request closed meanwhile.
func (db *DB) closeCompleted(ctx context.Context, c *skjold.Caller, r *requestRow, done *completion) error {
	result, err := json.Marshal(done.result)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if done.inTx != nil {
			if err := done.inTx(tx); err != nil {
				return err
			}
		}
		res, err := tx.exec(`UPDATE requests SET status = ?, closed_at = ?, result = ?, code_hash = NULL
			WHERE id = ? AND closed_at IS NULL`, skjold.StatusCompleted, micros(db.now()), string(result), r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return skjold.Errorf(skjold.ECONFLICT, "the request was closed meanwhile")
		}
		tx.audit(event(c, "request.complete", r.SubjectID, "", []string{"type:" + r.Type}))
		return nil
	})
}

// checkCompletable refuses a closed or unverified request, and a rectification body on
// anything but a rectification request, or a rectification without one.
func checkCompletable(r *requestRow, fix *skjold.Rectification) error {
	switch {
	case r.Closed():
		return skjold.Errorf(skjold.ECONFLICT, "the request is already closed (%s)", r.Status)
	case r.VerifiedAt == nil:
		return skjold.Errorf(skjold.ECONFLICT, "identity not verified: the requester has not confirmed the code sent to the address on file")
	case r.Type != skjold.RequestRectification && fix != nil && (!emptyUpdate(fix.Subject) || len(fix.Records) > 0):
		return skjold.FieldError("subject", "unexpected", "corrections are only given when completing a rectification request")
	case r.Type == skjold.RequestRectification && (fix == nil || emptyUpdate(fix.Subject) && len(fix.Records) == 0):
		return skjold.FieldError("subject", "required", "completing a rectification request needs the corrected values (subject or records)")
	}
	return nil
}

// completion is what carrying out a request produced: its result, an optional step for the
// closing write, an optional step after it (e-mailing a link), and a link to show once.
type completion struct {
	result *skjold.RequestResult
	inTx   func(tx *Tx) error
	after  func(ctx context.Context) error
	link   string
}

// carryOut does what the request asks, through the same service methods staff use, so that
// their validation and audit apply.
func (db *DB) carryOut(ctx context.Context, c *skjold.Caller, r *requestRow, fix *skjold.Rectification) (*completion, error) {
	done := &completion{result: &skjold.RequestResult{}}
	var err error
	switch r.Type {
	case skjold.RequestAccess, skjold.RequestPortability:
		return db.handOver(ctx, c, r)
	case skjold.RequestRectification:
		done.result.Changed, err = db.rectify(ctx, c.TenantID, r.SubjectID, fix)
	case skjold.RequestErasure:
		done.result.Erasure, err = db.EraseSubject(ctx, r.SubjectID, skjold.ErasedOnRequest)
	case skjold.RequestRestriction:
		err = db.SetRestriction(ctx, r.SubjectID, true)
	case skjold.RequestObjection:
		err = db.SetObjection(ctx, r.SubjectID, true)
	case skjold.RequestConsentWithdraw:
		err = db.RecordConsent(ctx, &skjold.Consent{SubjectID: r.SubjectID, Purpose: r.Purpose, Granted: false,
			Source: skjold.SourceRequest})
	default:
		err = skjold.Errorf(skjold.EINTERNAL, "request %s has an unknown type", r.ID)
	}
	return done, err
}

// rectify applies a rectification: every record named must be one of the subject's, checked
// before anything is written; then the profile, then the records, each validated by its own
// update. It returns the names of the fields written: profile field names, and
// "<record id>.<field>" for record fields.
func (db *DB) rectify(ctx context.Context, tenantID, subjectID string, fix *skjold.Rectification) ([]string, error) {
	ids := sortedKeys(fix.Records)
	for _, rid := range ids {
		var owner string
		err := db.queryRow(ctx, "SELECT subject_id FROM records WHERE id = ? AND tenant_id = ?", rid, tenantID).Scan(&owner)
		if err != nil && err != sql.ErrNoRows {
			return nil, err
		}
		if owner != subjectID || !skjold.ValidID(rid) {
			return nil, skjold.FieldError("records."+rid, "unknown", "records names a record that is not one of this subject's")
		}
		if len(fix.Records[rid]) == 0 {
			return nil, skjold.FieldError("records."+rid, "required", "each record to correct needs at least one field")
		}
	}
	var changed []string
	if !emptyUpdate(fix.Subject) {
		upd := fix.Subject
		if _, err := db.UpdateSubject(ctx, subjectID, upd); err != nil {
			return nil, err
		}
		changed = upd.Apply(&skjold.Subject{})
		slices.Sort(changed)
	}
	for _, rid := range ids {
		if _, err := db.UpdateRecord(ctx, rid, fix.Records[rid]); err != nil {
			return changed, err
		}
		for _, f := range sortedKeys(fix.Records[rid]) {
			changed = append(changed, rid+"."+f)
		}
	}
	return changed, nil
}

// emptyUpdate reports whether u changes no field.
func emptyUpdate(u skjold.SubjectUpdate) bool { return len(u.Apply(&skjold.Subject{})) == 0 }
