package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The privacy center's store side. It opens, verifies and shows requests through the same
// methods staff use (OpenRequest, VerifyRequest, Download), acting as the tenant's own
// "privacy-center" caller; what it adds is the public slug, the subject's language and
// proposed values kept with a request, and the status page's secret.

var _ skjold.PrivacyCenterService = (*DB)(nil)

const (
	statusPrefix   = "skjold_s_"
	proposalField  = "proposal"           // what a sealed proposal is bound to, with the request id
	statusLifetime = 180 * 24 * time.Hour // a request's status page outlives the longest deadline and hand-over
)

// privacyCenterCaller is the caller the privacy center acts as in a tenant: it may open and
// read requests, and is audited as "privacy-center".
func privacyCenterCaller(ctx context.Context, tenantID string) context.Context {
	return skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "privacy-center", TenantID: tenantID,
		Scopes: []string{skjold.ScopeRead, skjold.ScopeWrite}, Source: sourceOf(ctx)})
}

type requestLanguageKey struct{}

// withRequestLanguage makes OpenRequest keep lang with the request it stores.
func withRequestLanguage(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, requestLanguageKey{}, lang)
}

// newRequestLanguage is the language OpenRequest keeps with a new request: the subject's
// choice on the privacy center, "" (the tenant's) for requests staff open.
func newRequestLanguage(ctx context.Context) string {
	lang, _ := ctx.Value(requestLanguageKey{}).(string)
	return lang
}

// requestMailLanguage is the language of the e-mails about a request: the one kept with it,
// else the tenant's language for its subjects.
func (db *DB) requestMailLanguage(ctx context.Context, tenantID, requestID string) string {
	var lang string
	if err := db.queryRow(ctx, "SELECT language FROM requests WHERE id = ?", requestID).Scan(&lang); err == nil && lang != "" {
		return lang
	}
	return db.subjectLanguage(ctx, tenantID)
}

// assignSlug gives a new tenant the slug of its name, with a number added when taken.
func (tx *Tx) assignSlug(id, name string) error {
	base := skjold.SlugOf(name)
	for i := 1; ; i++ {
		slug := base
		if i > 1 {
			slug = fmt.Sprintf("%s-%d", base, i)
		}
		var n int
		if err := tx.queryRow("SELECT COUNT(*) FROM tenants WHERE slug = ?", slug).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			_, err := tx.exec("UPDATE tenants SET slug = ? WHERE id = ?", slug, id)
			return err
		}
	}
}

// PublicTenant returns the active tenant with this slug.
func (db *DB) PublicTenant(ctx context.Context, slug string) (*skjold.PublicTenant, error) {
	if !skjold.ValidSlug(slug) {
		return nil, errNotFound("tenant")
	}
	t := &skjold.PublicTenant{Slug: slug}
	var status string
	err := db.queryRow(ctx, "SELECT id, name, status FROM tenants WHERE slug = ? AND wrapped_key IS NOT NULL", slug).Scan(&t.ID, &t.Name, &status)
	if err != nil {
		return nil, notFound(err, "tenant")
	}
	if status != skjold.TenantActive {
		return nil, errNotFound("tenant")
	}
	return t, nil
}

// PublicNotice reads the notice's facts, purposes and categories as they are now.
func (db *DB) PublicNotice(ctx context.Context, tenantID string) (*skjold.PublicNotice, error) {
	cctx := privacyCenterCaller(ctx, tenantID)
	n := &skjold.PublicNotice{Tenant: &skjold.PublicTenant{ID: tenantID}}
	var err error
	if n.Tenant.Name, err = db.tenantName(ctx, tenantID); err != nil {
		return nil, notFound(err, "tenant")
	}
	if n.Facts, err = db.PrivacyNotice(cctx); err != nil {
		return nil, err
	}
	if n.Purposes, err = db.FindPurposes(cctx); err != nil {
		return nil, err
	}
	if n.Categories, err = db.FindCategories(cctx); err != nil {
		return nil, err
	}
	return n, nil
}

// checkProposal validates a rectification's proposed values: known fields, bounded text.
func checkProposal(typ string, p map[string]string) error {
	if typ != skjold.RequestRectification {
		if len(p) > 0 {
			return skjold.FieldError("proposal", "unexpected", "only a rectification request proposes values")
		}
		return nil
	}
	n := 0
	for k, v := range p {
		ok := false
		for _, f := range skjold.ProposalFields {
			ok = ok || f == k
		}
		if !ok {
			return skjold.FieldError("proposal", "unknown", "proposal names an unknown field")
		}
		if utf8.RuneCountInString(v) > skjold.MaxProposalText {
			return skjold.FieldError(k, "length", "each proposed value must be at most %d characters", skjold.MaxProposalText)
		}
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if n == 0 {
		return skjold.FieldError("proposal", "required", "a rectification request proposes at least one corrected value")
	}
	return nil
}

// OpenSubjectRequest opens a request from the privacy center. Bad input is refused before
// anything else, the same for every address. Then either OpenRequest stores the request
// and mails the code to the address on file, or — no such subject, or none that can get
// a code — the same kind of work is done (a code made, two writes, the tenant's mail
// settings read) and a fresh id that no request has is returned: the answer is the same.
func (db *DB) OpenSubjectRequest(ctx context.Context, tenantID string, r *skjold.Request, who skjold.SubjectLookup,
	lang string, proposal map[string]string) (string, error) {
	if !i18n.Supported(lang) {
		return "", skjold.FieldError("language", "language", "language must be one of %v", skjold.Languages)
	}
	if who.Ref != "" || (who.Email == "") == (who.Phone == "") {
		return "", skjold.FieldError("email", "required", "give exactly one of an e-mail address or a phone number")
	}
	kind, value := skjold.LookupEmail, who.Email
	if who.Phone != "" {
		kind, value = skjold.LookupPhone, who.Phone
	}
	if !skjold.ValidLookup(value) || (kind == skjold.LookupEmail && !strings.Contains(value, "@")) {
		return "", skjold.FieldError(kind, "lookup", "%s is not a valid address", kind)
	}
	if err := db.checkNewRequest(ctx, tenantID, r); err != nil {
		return "", err
	}
	if err := checkProposal(r.Type, proposal); err != nil {
		return "", err
	}
	cctx := withRequestLanguage(privacyCenterCaller(ctx, tenantID), lang)
	err := db.OpenRequest(cctx, r, who)
	switch skjold.ErrorCode(err) {
	case "":
		return r.ID, db.keepProposal(ctx, tenantID, r, proposal)
	case skjold.ENOTFOUND, skjold.ECONFLICT:
		return db.decoyRequest(ctx, tenantID)
	}
	return "", err
}

// keepProposal seals a rectification's proposed values under the subject's data key and
// stores them with the request. The write is made for every request, so that each answer
// costs the same.
func (db *DB) keepProposal(ctx context.Context, tenantID string, r *skjold.Request, proposal map[string]string) error {
	var sealed []byte
	if len(proposal) > 0 {
		key, err := db.subjectKey(ctx, tenantID, r.SubjectID)
		if err != nil {
			return err
		}
		plain, err := json.Marshal(proposal)
		if err != nil {
			return err
		}
		if sealed, err = key.Seal(r.ID, proposalField, plain); err != nil {
			return err
		}
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE requests SET proposal = ? WHERE id = ? AND tenant_id = ?", sealed, r.ID, tenantID)
		return err
	})
}

// decoyRequest does what opening a request does, without a subject: it makes a code, reads
// what the code's e-mail reads, and runs two writes that change nothing. The id it returns
// belongs to no request, so its code check fails as a wrong code does.
func (db *DB) decoyRequest(ctx context.Context, tenantID string) (string, error) {
	_, hash := newCode()
	id := newID()
	for range 2 {
		err := db.write(ctx, func(tx *Tx) error {
			// the tenant's row is rewritten unchanged, so that the write commits as a real one does
			if _, err := tx.exec("UPDATE requests SET code_hash = ? WHERE id = ? AND tenant_id = ?", hash, id, tenantID); err != nil {
				return err
			}
			_, err := tx.exec("UPDATE tenants SET slug = slug WHERE id = ?", tenantID)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	if _, err := db.tenantName(ctx, tenantID); err != nil {
		return "", err
	}
	_ = i18n.Mail(db.requestMailLanguage(ctx, tenantID, id)).T("mail.code.subject", "tenant", "")
	return id, nil
}

// VerifySubjectRequest checks the code through VerifyRequest and, when right, gives the
// subject's browser the secret of the request's status page.
func (db *DB) VerifySubjectRequest(ctx context.Context, tenantID, id, code string) (string, error) {
	if skjold.ValidID(id) {
		var owner string
		err := db.queryRow(ctx, "SELECT tenant_id FROM requests WHERE id = ?", id).Scan(&owner)
		if err != nil && err != sql.ErrNoRows {
			return "", err
		}
		if owner != tenantID {
			id = newID() // another tenant's request, or none: answered as a wrong code
		}
	}
	r, err := db.VerifyRequest(ctx, id, code)
	if err != nil {
		return "", err
	}
	secret := randomSecret(statusPrefix)
	err = db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE requests SET status_hash = ?, status_expires_at = ? WHERE id = ?",
			hashSecret(secret), micros(db.now().Add(statusLifetime)), r.ID)
		return err
	})
	return secret, err
}

var errStatusGone = skjold.Errorf(skjold.ENOTFOUND, "this status page is unknown or expired")

// statusRequest returns the request a status secret names in the tenant.
func (db *DB) statusRequest(ctx context.Context, tenantID, secret string) (*requestRow, error) {
	if !strings.HasPrefix(secret, statusPrefix) || len(secret) != len(statusPrefix)+secretLen {
		return nil, errStatusGone
	}
	r, err := scanRequest(db.queryRow(ctx, selectRequests+" WHERE status_hash = ? AND tenant_id = ? AND status_expires_at > ?",
		hashSecret(secret), tenantID, micros(db.now())))
	if err != nil {
		return nil, notFoundAs(err, errStatusGone)
	}
	return r, nil
}

// SubjectRequestStatus returns the request a status secret names, without its download link.
func (db *DB) SubjectRequestStatus(ctx context.Context, tenantID, secret string) (*skjold.Request, error) {
	r, err := db.statusRequest(ctx, tenantID, secret)
	if err != nil {
		return nil, err
	}
	out := r.withOverdue(db.now())
	if out.Result != nil {
		out.Result.DownloadURL = ""
	}
	return out, nil
}

// SubjectDownload hands over the request's access package by the status secret, once,
// through the same single-use fetch as a download link.
func (db *DB) SubjectDownload(ctx context.Context, tenantID, secret string) (string, []byte, error) {
	r, err := db.statusRequest(ctx, tenantID, secret)
	if err != nil {
		return "", nil, err
	}
	var id string
	err = db.queryRow(ctx, `SELECT id FROM downloads WHERE request_id = ? AND tenant_id = ? AND used_at IS NULL AND expires_at > ?
		ORDER BY id DESC LIMIT 1`, r.ID, tenantID, micros(db.now())).Scan(&id)
	if err != nil {
		return "", nil, notFoundAs(err, errDownloadGone)
	}
	return db.fetchDownload(ctx, "id = ?", id)
}

// RequestProposal opens a rectification request's proposed values for staff.
func (db *DB) RequestProposal(ctx context.Context, id string) (map[string]string, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return nil, err
	}
	r, err := db.tenantRequest(ctx, c.TenantID, id)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if err := db.queryRow(ctx, "SELECT proposal FROM requests WHERE id = ?", id).Scan(&sealed); err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(sealed) == 0 {
		return out, nil
	}
	key, err := db.subjectKey(ctx, c.TenantID, r.SubjectID)
	if err != nil {
		return out, nil // the subject is gone: so are the values
	}
	plain, err := key.Open(id, proposalField, sealed)
	if err != nil {
		return nil, err
	}
	return out, json.Unmarshal(plain, &out)
}

// SetPublicSlug sets the tenant's public slug.
func (db *DB) SetPublicSlug(ctx context.Context, slug string) error {
	c, err := requestCaller(ctx, skjold.ScopeAdmin)
	if err != nil {
		return err
	}
	if !skjold.ValidSlug(slug) {
		return skjold.FieldError("slug", "format", "a slug is 1 to 40 lower-case letters, digits and inner hyphens")
	}
	return db.write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow("SELECT COUNT(*) FROM tenants WHERE slug = ? AND id <> ?", slug, c.TenantID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return skjold.FieldError("slug", "taken", "this slug is taken")
		}
		if _, err := tx.exec("UPDATE tenants SET slug = ? WHERE id = ?", slug, c.TenantID); err != nil {
			if isUniqueViolation(err) {
				return skjold.FieldError("slug", "taken", "this slug is taken")
			}
			return err
		}
		tx.audit(event(c, "settings.update", "", "", []string{"public_slug"}))
		return nil
	})
}

// PublicSlug returns the caller's tenant's public slug.
func (db *DB) PublicSlug(ctx context.Context) (string, error) {
	c, err := requestCaller(ctx, skjold.ScopeRead)
	if err != nil {
		return "", err
	}
	var slug sql.NullString
	err = db.queryRow(ctx, "SELECT slug FROM tenants WHERE id = ?", c.TenantID).Scan(&slug)
	return slug.String, err
}

// tellSubject e-mails the subject, in the request's language, that their request was
// refused (with the reason) or extended (with the new due date and the reason) [C9].
func (db *DB) tellSubject(ctx context.Context, tenantID string, r *skjold.Request) {
	if db.auth.Mailer == nil {
		return
	}
	tk, err := db.tenantKey(ctx, tenantID)
	if err != nil {
		return
	}
	sub, _, err := db.subjectProfile(ctx, tenantID, tk, r.SubjectID)
	if err != nil || sub.Email == "" {
		return
	}
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return
	}
	cat := i18n.Mail(db.requestMailLanguage(ctx, tenantID, r.ID))
	what := cat.T("mail.request." + r.Type)
	var subject, body string
	if r.Status == skjold.StatusRefused {
		reason := cat.T("privacy.refusal." + r.RefusalCode)
		subject = cat.T("privacy.mail.refused_subject", "tenant", name)
		body = mailBody(cat.T("privacy.mail.refused_intro", "tenant", name, "request", what),
			cat.T("privacy.mail.reason", "reason", reason), r.RefusalNote, cat.T("privacy.mail.complain"),
			cat.T("mail.code.request", "id", r.ID))
	} else {
		subject = cat.T("privacy.mail.extended_subject", "tenant", name)
		body = mailBody(cat.T("privacy.mail.extended_intro", "tenant", name, "request", what, "due", r.DueAt.UTC()),
			cat.T("privacy.mail.reason", "reason", r.ExtensionReason), cat.T("mail.code.request", "id", r.ID))
	}
	if err := db.mailInBackground(ctx, skjold.Message{To: sub.Email, Subject: subject, Body: body,
		TenantID: tenantID, SubjectID: r.SubjectID}); err != nil {
		db.log.Error("request e-mail not sent", "err", err)
	}
}
