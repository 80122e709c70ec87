package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// Download links carry a secret that names its kind and 256 random bits; only its SHA-256
// is stored. A hand-over copy lives skjold.DefaultHandoverDays, the default lifetime of
// hand-over copies [D3], which the retention sweep enforces too; its link works once, and
// the content is emptied when it is fetched.
const (
	downloadPrefix = "skjold_d_"
	downloadField  = "package" // what the sealed content is bound to, with the download id
)

// errDownloadGone answers an unknown, used and expired link alike.
var errDownloadGone = skjold.Errorf(skjold.ENOTFOUND, "this download link is unknown, used or expired")

// handOver builds the subject's access package, seals it under the subject's data key for a
// single-use link, and arranges for the link to be stored with the completion and e-mailed
// to the subject's address on file after it.
func (db *DB) handOver(ctx context.Context, c *skjold.Caller, r *requestRow) (*completion, error) {
	if db.packager == nil || db.publicURL == "" {
		return nil, skjold.Errorf(skjold.EINTERNAL, "access packages are not configured on this server (packager and public URL)")
	}
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	sub, key, err := db.subjectProfile(ctx, c.TenantID, tk, r.SubjectID)
	if err != nil {
		return nil, err
	}
	if sub.Email == "" {
		return nil, skjold.Errorf(skjold.ECONFLICT, "the subject has no e-mail address on file to send the download link to")
	}
	d, err := db.SubjectData(ctx, r.SubjectID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := db.packager(&buf, d); err != nil {
		return nil, fmt.Errorf("store: access package: %w", err)
	}
	dlID := newID()
	sealed, err := key.Seal(dlID, downloadField, buf.Bytes())
	if err != nil {
		return nil, err
	}
	secret := randomSecret(downloadPrefix)
	now := db.now().UTC().Truncate(time.Microsecond)
	expires := now.AddDate(0, 0, skjold.DefaultHandoverDays)
	link := db.publicURL + "/api/v1/downloads/" + secret
	return &completion{
		result: &skjold.RequestResult{ExpiresAt: &expires},
		link:   link,
		inTx: func(tx *Tx) error {
			_, err := tx.exec(`INSERT INTO downloads (id, tenant_id, subject_id, request_id, token_hash, content, created_at,
				expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, dlID, c.TenantID, r.SubjectID, r.ID, hashSecret(secret),
				sealed, micros(now), micros(expires))
			tx.audit(event(c, "download.create", r.SubjectID, "", []string{"request:" + r.ID}))
			return err
		},
		after: func(ctx context.Context) error {
			return db.sendLink(ctx, c.TenantID, &r.Request, sub.Email, link, expires)
		},
	}, nil
}

// sendLink e-mails a download link; like the code, the mail names only the tenant and the
// request type.
func (db *DB) sendLink(ctx context.Context, tenantID string, r *skjold.Request, to, link string, expires time.Time) error {
	if db.auth.Mailer == nil {
		return skjold.Errorf(skjold.EINTERNAL, "e-mail is not configured on this store")
	}
	name, err := db.tenantName(ctx, tenantID)
	if err != nil {
		return err
	}
	cat := i18n.Mail(db.requestMailLanguage(ctx, tenantID, r.ID))
	body := mailBody(cat.T("mail.download.intro", "tenant", name, "request", cat.T("mail.request."+r.Type)),
		cat.T("mail.download.link", "expires", expires.UTC()), link, cat.T("mail.download.request", "id", r.ID))
	return db.mailInBackground(ctx, skjold.Message{To: to, Subject: cat.T("mail.download.subject", "tenant", name), Body: body,
		TenantID: tenantID, SubjectID: r.SubjectID})
}

// Download returns a hand-over copy by its link's secret and uses the link up: the write
// that reads the copy marks it used and empties it, so that two concurrent fetches cannot
// both get it. Unknown, used and expired links get the same ENOTFOUND.
func (db *DB) Download(ctx context.Context, secret string) (string, []byte, error) {
	if !strings.HasPrefix(secret, downloadPrefix) || len(secret) != len(downloadPrefix)+secretLen {
		return "", nil, errDownloadGone
	}
	return db.fetchDownload(ctx, "token_hash = ?", hashSecret(secret))
}

// fetchDownload hands over the unused, unexpired copy that where (with arg) selects, once:
// by a link's secret, or by its id for the privacy center's status page.
func (db *DB) fetchDownload(ctx context.Context, where string, arg any) (string, []byte, error) {
	var id, tenantID, subjectID, requestID string
	err := db.queryRow(ctx, `SELECT id, tenant_id, subject_id, request_id FROM downloads WHERE `+where+`
		AND used_at IS NULL AND expires_at > ?`, arg, micros(db.now())).Scan(&id, &tenantID, &subjectID, &requestID)
	if err != nil {
		return "", nil, notFoundAs(err, errDownloadGone)
	}
	if err := db.refuseFrozen(ctx, tenantID); err != nil {
		return "", nil, err // a frozen tenant's data is kept, not handed out; the link still works after reactivation
	}
	key, err := db.subjectKey(ctx, tenantID, subjectID)
	if err != nil {
		return "", nil, notFoundAs(err, errDownloadGone)
	}
	var sealed []byte
	err = db.write(ctx, func(tx *Tx) error {
		now := micros(db.now())
		err := tx.queryRow("SELECT content FROM downloads WHERE id = ? AND used_at IS NULL AND expires_at > ?", id, now).Scan(&sealed)
		if err != nil {
			return notFoundAs(err, errDownloadGone)
		}
		if _, err := tx.exec("UPDATE downloads SET used_at = ?, content = ? WHERE id = ?", now, []byte{}, id); err != nil {
			return err
		}
		c := &skjold.Caller{Actor: "download:" + id, TenantID: tenantID, Source: sourceOf(ctx)}
		tx.audit(event(c, "download.fetch", subjectID, "", []string{"request:" + requestID}))
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	content, err := key.Open(id, downloadField, sealed)
	if err != nil {
		return "", nil, err
	}
	return "skjold-access-" + requestID + ".zip", content, nil
}

// subjectKey unwraps a subject's data key.
func (db *DB) subjectKey(ctx context.Context, tenantID, subjectID string) (skjold.SubjectKey, error) {
	tk, err := db.tenantKey(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var wrapped []byte
	if err := db.queryRow(ctx, "SELECT wrapped_key FROM subjects WHERE id = ? AND tenant_id = ?", subjectID, tenantID).Scan(&wrapped); err != nil {
		return nil, err
	}
	if wrapped == nil {
		return nil, sql.ErrNoRows
	}
	return tk.OpenSubjectKey(subjectID, wrapped)
}
