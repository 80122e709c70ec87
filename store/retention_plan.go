package store

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

// MaxPlanDays is the furthest ahead PlanRetention looks.
const MaxPlanDays = 366

// MaxPlanEntries caps PlanRetention's list: the entries due first are kept, the rest left
// out (ask again with fewer days, or after the next sweep).
const MaxPlanEntries = 10_000

// PlanRetention lists what a sweep run in days (1 to MaxPlanDays) would erase in the caller's
// tenant if nothing changed meanwhile: records whose period ends by then and that no hold in
// force now covers, and subjects due (RecordID ""), ordered by due date and capped at
// MaxPlanEntries. An ended subject is listed for when its last record goes too; a pending
// erasure for when its last statutory retention ends. It reads pseudonymous ids only, and is
// audited as retention.plan.
func (db *DB) PlanRetention(ctx context.Context, days int) ([]*skjold.RetentionDue, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	if days < 1 || days > MaxPlanDays {
		return nil, skjold.FieldError("days", "range", "days must be between 1 and %d", MaxPlanDays)
	}
	cats, err := queryAll(ctx, db, scanCategory, "SELECT definition FROM categories WHERE tenant_id = ? ORDER BY name", c.TenantID)
	if err != nil {
		return nil, err
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	p := &plan{db: db, tenantID: c.TenantID, now: now, horizon: now.AddDate(0, 0, days), cats: map[string]*skjold.Category{}}
	for _, cat := range cats {
		p.cats[cat.Name] = cat
	}
	out, err := p.entries(ctx, cats)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *skjold.RetentionDue) int {
		if n := a.DueAt.Compare(b.DueAt); n != 0 {
			return n
		}
		return compareStrings(a.SubjectID+a.RecordID, b.SubjectID+b.RecordID)
	})
	out = out[:min(len(out), MaxPlanEntries)]
	ev := event(c, "retention.plan", "", "", []string{"days:" + strconv.Itoa(days), "entries:" + strconv.Itoa(len(out))})
	return out, db.auditOnly(ctx, ev)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// plan is one run of PlanRetention.
type plan struct {
	db           *DB
	tenantID     string
	now, horizon time.Time
	cats         map[string]*skjold.Category
}

func (p *plan) entries(ctx context.Context, cats []*skjold.Category) ([]*skjold.RetentionDue, error) {
	out := []*skjold.RetentionDue{}
	for _, cat := range cats {
		if cat.Name == skjold.SubjectCategory {
			continue
		}
		due, err := p.records(ctx, cat)
		if err != nil {
			return nil, err
		}
		out = append(out, due...)
	}
	due, err := p.subjects(ctx)
	return append(out, due...), err
}

// records lists a category's records due by the horizon, as the sweep would judge them then.
func (p *plan) records(ctx context.Context, cat *skjold.Category) ([]*skjold.RetentionDue, error) {
	cutoff, ok := retentionCutoff(cat, p.horizon)
	if !ok {
		return nil, nil
	}
	out, err := queryAll(ctx, p.db, func(s scanner) (*skjold.RetentionDue, error) {
		d := &skjold.RetentionDue{Category: cat.Name}
		var from int64
		err := s.Scan(&d.RecordID, &d.SubjectID, &from)
		d.DueAt = retentionDue(cat, fromMicros(from))
		return d, err
	}, `SELECT r.id, r.subject_id, r.retain_from FROM records r WHERE r.tenant_id = ? AND r.category = ?
		AND r.retain_from <= ? AND `+holdFree+` ORDER BY r.retain_from LIMIT ?`, p.tenantID, cat.Name, cutoff, micros(p.now), MaxPlanEntries)
	if err != nil || anchorField(cat) == "" {
		return out, err
	}
	unanchored, err := p.unanchored(ctx, cat, cutoff)
	return append(out, unanchored...), err
}

// unanchored lists the records of a date-field category whose anchor the sweep has not
// filled in yet, opening them to read it as the sweep will.
func (p *plan) unanchored(ctx context.Context, cat *skjold.Category, cutoff int64) ([]*skjold.RetentionDue, error) {
	stored, err := queryAll(ctx, p.db, scanRecordRow, selectRecords+` WHERE r.tenant_id = ? AND r.category = ?
		AND r.retain_from IS NULL AND `+holdFree+` LIMIT ?`, p.tenantID, cat.Name, micros(p.now), MaxPlanEntries)
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	tk, err := p.db.tenantKey(ctx, p.tenantID)
	if err != nil {
		return nil, err
	}
	var out []*skjold.RetentionDue
	for _, row := range stored {
		rec, _, err := row.open(tk)
		if err != nil {
			return nil, err
		}
		if from := fieldAnchor(rec.Data, anchorField(cat), rec.CreatedAt); from <= cutoff {
			out = append(out, &skjold.RetentionDue{SubjectID: rec.SubjectID, RecordID: rec.ID, Category: cat.Name,
				DueAt: retentionDue(cat, fromMicros(from))})
		}
	}
	return out, nil
}

// planSubject is a subject that may be due: its relationship, when it ended or was created,
// and whether its erasure is pending.
type planSubject struct {
	id, relationship string
	ended            sql.NullInt64
	created          int64
	pending          bool
}

// subjects lists the subjects the sweep will erase by the horizon (see Sweep).
func (p *plan) subjects(ctx context.Context) ([]*skjold.RetentionDue, error) {
	profile := p.cats[skjold.SubjectCategory]
	if profile == nil {
		return nil, nil
	}
	ended, ok := retentionCutoff(profile, p.horizon)
	if !ok {
		ended = math.MinInt64
	}
	prospect := micros(p.horizon.AddDate(0, 0, -skjold.DefaultProspectDays))
	cands, err := queryAll(ctx, p.db, func(s scanner) (planSubject, error) {
		var ps planSubject
		var pending sql.NullInt64
		err := s.Scan(&ps.id, &ps.relationship, &ps.ended, &ps.created, &pending)
		ps.pending = pending.Valid
		return ps, err
	}, `SELECT s.id, s.relationship, s.relationship_ended_at, s.created_at, s.erasure_pending_at FROM subjects s
		WHERE s.tenant_id = ? AND (s.erasure_pending_at IS NOT NULL OR (s.relationship = 'ended' AND s.relationship_ended_at <= ?)
		OR (s.relationship = 'prospect' AND s.created_at <= ?)) AND `+subjectHoldFree+` ORDER BY s.id LIMIT ?`,
		p.tenantID, ended, prospect, micros(p.now), MaxPlanEntries)
	if err != nil {
		return nil, err
	}
	var out []*skjold.RetentionDue
	for _, ps := range cands {
		due, ok, err := p.subjectDue(ctx, profile, ps)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, &skjold.RetentionDue{SubjectID: ps.id, Category: skjold.SubjectCategory, DueAt: due})
		}
	}
	return out, nil
}

// subjectDue returns when the sweep erases a candidate subject, and whether that is by the
// horizon: a prospect when it is DefaultProspectDays old; an ended subject when its own
// period has passed and its last record is gone; a pending erasure when the last of its
// records leaves its statutory retention. A hold on any of the records postpones it.
func (p *plan) subjectDue(ctx context.Context, profile *skjold.Category, ps planSubject) (time.Time, bool, error) {
	if ps.relationship == skjold.RelationshipProspect && !ps.pending {
		return fromMicros(ps.created).AddDate(0, 0, skjold.DefaultProspectDays), true, nil
	}
	due := p.now
	if !ps.pending {
		due = retentionDue(profile, fromMicros(ps.ended.Int64))
	}
	rows, err := p.db.query(ctx, `SELECT r.category, r.retain_from, CASE WHEN `+holdFree+` THEN 0 ELSE 1 END
		FROM records r WHERE r.subject_id = ? AND r.tenant_id = ?`, micros(p.now), ps.id, p.tenantID)
	if err != nil {
		return due, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var category string
		var from sql.NullInt64
		var held int
		if err := rows.Scan(&category, &from, &held); err != nil {
			return due, false, err
		}
		recDue, ok := p.recordDue(p.cats[category], from, ps.pending)
		if held == 1 || !ok {
			return due, false, rows.Err()
		}
		due = maxTime(due, recDue)
	}
	return due, !due.After(p.horizon), rows.Err()
}

// recordDue returns when a subject's record goes: by its period, or, for a pending erasure,
// at once unless a legal obligation keeps it. ok is false when that is not known.
func (p *plan) recordDue(cat *skjold.Category, from sql.NullInt64, pending bool) (time.Time, bool) {
	switch {
	case cat == nil:
		return p.now, false
	case pending && cat.LegalBasis != skjold.BasisLegalObligation:
		return p.now, true
	case !from.Valid:
		return p.now, false
	}
	return retentionDue(cat, fromMicros(from.Int64)), true
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
