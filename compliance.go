package skjold

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ComplianceProfile is what a tenant (or the operator, for its own staff and the installation)
// has promised its customers, and so which compliance checks apply to it and against which
// numbers. The defaults follow the seed documents: backups at 14:00 and 19:00 with an off-site
// copy and seven daily copies, a rehearsed restore, passwords of 12 characters, a second factor
// for admins, a 15-minute idle lock, offboarding, annual training, retention periods, a
// verified audit chain and a data processing agreement.
type ComplianceProfile struct {
	BackupTimes       []string `json:"backup_times"`        // HH:MM; empty: no promise [E1]
	BackupZone        string   `json:"backup_zone"`         // time zone of BackupTimes (IANA name, or Local)
	Offsite           bool     `json:"offsite"`             // an off-site copy every day [E2]
	DailyCopies       int      `json:"daily_copies"`        // daily copies kept; 0: no promise [E3]
	Drill             bool     `json:"drill"`               // restores are rehearsed [E4]
	MinPasswordLength int      `json:"min_password_length"` // 0: no promise [B2, B5]
	AdminTwoFactor    bool     `json:"admin_two_factor"`    // [B6]
	MaxIdleMinutes    int      `json:"max_idle_minutes"`    // 0: no promise [B9]
	Offboarding       bool     `json:"offboarding"`         // [B8]
	Training          bool     `json:"training"`            // [B15]
	Retention         bool     `json:"retention"`           // [D1]
	AuditChain        bool     `json:"audit_chain"`         // [F3]
	DPA               bool     `json:"dpa"`                 // [G1]
}

// DefaultComplianceProfile is the profile of a tenant that has set none: the seeds' promises.
func DefaultComplianceProfile() ComplianceProfile {
	return ComplianceProfile{BackupTimes: []string{"14:00", "19:00"}, BackupZone: "Local", Offsite: true, DailyCopies: 7,
		Drill: true, MinPasswordLength: DefaultPasswordLength, AdminTwoFactor: true, MaxIdleMinutes: 15, Offboarding: true,
		Training: true, Retention: true, AuditChain: true, DPA: true}
}

// Validate returns an EINVALID error naming the field at fault.
func (p *ComplianceProfile) Validate() error {
	if p.BackupTimes == nil {
		p.BackupTimes = []string{}
	}
	if len(p.BackupTimes) > 24 {
		return FieldError("backup_times", "range", "backup_times holds at most 24 times")
	}
	for _, s := range p.BackupTimes {
		if _, err := time.Parse("15:04", s); err != nil || len(s) != 5 {
			return FieldError("backup_times", "time", "backup_times must be times of day such as 14:00")
		}
	}
	if p.BackupZone == "" {
		p.BackupZone = "Local"
	}
	if _, err := time.LoadLocation(p.BackupZone); err != nil || len(p.BackupZone) > 64 {
		return FieldError("backup_zone", "zone", "backup_zone must be a time zone such as Europe/Oslo, or Local")
	}
	switch {
	case p.DailyCopies < 0 || p.DailyCopies > 90:
		return FieldError("daily_copies", "range", "daily_copies must be between 0 and 90")
	case p.MinPasswordLength != 0 && (p.MinPasswordLength < MinPasswordLength || p.MinPasswordLength > 128):
		return FieldError("min_password_length", "range", "min_password_length must be 0 (no promise) or between %d and 128", MinPasswordLength)
	case p.MaxIdleMinutes < 0 || p.MaxIdleMinutes > 240:
		return FieldError("max_idle_minutes", "range", "max_idle_minutes must be between 0 (no promise) and 240")
	}
	return nil
}

// Compliance check outcomes.
const (
	CheckPass          = "pass"
	CheckFail          = "fail"
	CheckNotConfigured = "not_configured" // nothing promised, or nothing in Skjold yet keeps the promise
)

// ComplianceCheck is one promise and whether live state keeps it: its requirement id, a
// stable name (also the metric's label), the outcome and the evidence behind it (ids, times
// and counts; never a personal value).
type ComplianceCheck struct {
	Requirement string   `json:"requirement"`
	Check       string   `json:"check"`
	Status      string   `json:"status"`
	Evidence    []string `json:"evidence"`
}

// ComplianceScope is the checks of the operator (TenantID "", Scope "operator") or of one
// tenant (Scope is its id), against its profile.
type ComplianceScope struct {
	Scope    string            `json:"scope"`
	TenantID string            `json:"tenant_id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Profile  ComplianceProfile `json:"profile"`
	Checks   []ComplianceCheck `json:"checks"`
}

// ComplianceReport is every scope the caller may see, checked at GeneratedAt. OK is false
// when any check failed.
type ComplianceReport struct {
	GeneratedAt time.Time         `json:"generated_at"`
	OK          bool              `json:"ok"`
	Scopes      []ComplianceScope `json:"scopes"`
}

// ComplianceFacts is the live state one scope's checks read, gathered by the store. The ids
// are user and category ids, never names or addresses.
type ComplianceFacts struct {
	Now                    time.Time
	Runs                   []*BackupRun // backup runs of the last DailyCopies+1 days, any outcome
	Settings               SessionSettings
	AdminsWithoutTwoFactor []string // owners and admins, not suspended, without a second factor
	PastEndUnsuspended     []string // users past their access_until, not suspended
	TrainingOverdue        []string // people reaching personal data whose training is due
	CategoriesNoRetention  []string
	LastSweep              time.Time // zero: never
	Chain                  *ChainReport
	ChainError             string         // why the chain did not verify; "" when it did
	DPAVersion             string         // the tenant's agreement's current version; "" for the operator
	DPAAccepted            *DPAAcceptance // the newest acceptance, nil when none
	ProcessorHosts         []ProcessorHost
	UncoveredHosts         []ProcessorHost // configured hosts no sub-processor entry lists
}

// ComplianceService checks the promises against live state [G4].
type ComplianceService interface {
	// Compliance checks the operator's promises and every tenant's for an operator caller,
	// the caller's own tenant otherwise. Errors: EUNAUTHORIZED, EFORBIDDEN (not an admin).
	Compliance(ctx context.Context) (*ComplianceReport, error)

	// ComplianceProfile returns the profile of the caller's tenant (the operator's for
	// operator staff), or the default. Errors: EUNAUTHORIZED, EFORBIDDEN.
	ComplianceProfile(ctx context.Context) (*ComplianceProfile, error)

	// PutComplianceProfile replaces the profile of the caller's tenant (the operator's for
	// operator staff); an owner's or an operator manager's task. Errors: EINVALID,
	// EFORBIDDEN.
	PutComplianceProfile(ctx context.Context, p *ComplianceProfile) error
}

// backupGrace is how long after its scheduled time a backup may take before the promise is
// judged, and how late it may start.
const backupGrace = time.Hour

// CheckCompliance is the one place every rule lives: it judges facts against profile p. The
// CLI, the API, the console and the metrics all show what it returns.
func CheckCompliance(p ComplianceProfile, f *ComplianceFacts) []ComplianceCheck {
	return []ComplianceCheck{
		checkBackupTimes(p, f), checkOffsite(p, f), checkDailyCopies(p, f), checkDrill(p, f),
		checkPasswordPolicy(p, f), checkAdminTwoFactor(p, f), checkIdle(p, f), checkOffboarding(p, f),
		checkTraining(p, f), checkRetention(p, f), checkAuditChain(p, f), checkDPA(p, f), checkSubprocessors(f),
	}
}

func verdict(req, name string, ok bool, evidence ...string) ComplianceCheck {
	s := CheckFail
	if ok {
		s = CheckPass
	}
	if evidence == nil {
		evidence = []string{}
	}
	return ComplianceCheck{Requirement: req, Check: name, Status: s, Evidence: evidence}
}

func notConfigured(req, name, why string) ComplianceCheck {
	return ComplianceCheck{Requirement: req, Check: name, Status: CheckNotConfigured, Evidence: []string{why}}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// okRun returns the first run of one of kinds that finished ok and started in [from, to).
func okRun(runs []*BackupRun, from, to time.Time, kinds ...string) *BackupRun {
	for _, r := range runs {
		if r.Status == RunOK && !r.StartedAt.Before(from) && r.StartedAt.Before(to) && containsString(kinds, r.Kind) {
			return r
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkBackupTimes [E1]: for every promised time, its last occurrence that is at least
// backupGrace old must have a scheduled backup that started within backupGrace of it.
func checkBackupTimes(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E1", "backup_times"
	if len(p.BackupTimes) == 0 {
		return notConfigured(req, name, "no backup times promised")
	}
	loc, err := time.LoadLocation(p.BackupZone)
	if err != nil {
		loc = time.Local
	}
	ok, ev := true, []string{}
	judged := f.Now.Add(-backupGrace)
	for _, hm := range p.BackupTimes {
		at, _ := time.Parse("15:04", hm)
		d := judged.In(loc)
		occ := time.Date(d.Year(), d.Month(), d.Day(), at.Hour(), at.Minute(), 0, 0, loc)
		if occ.After(judged) {
			occ = occ.AddDate(0, 0, -1)
		}
		if r := okRun(f.Runs, occ.Add(-5*time.Minute), occ.Add(backupGrace), RunBackup); r != nil {
			ev = append(ev, fmt.Sprintf("%s: %s ok at %s, backup %s", hm, r.Slot, stamp(r.StartedAt), r.ManifestID))
		} else {
			ok = false
			ev = append(ev, fmt.Sprintf("%s: no successful backup for %s", hm, stamp(occ)))
		}
	}
	return verdict(req, name, ok, ev...)
}

// checkOffsite [E2]: an off-site copy finished ok in the last day (and the grace).
func checkOffsite(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E2", "offsite_copy"
	if !p.Offsite {
		return notConfigured(req, name, "no off-site copy promised")
	}
	if r := okRun(f.Runs, f.Now.Add(-24*time.Hour-backupGrace), f.Now, RunOffsite); r != nil {
		return verdict(req, name, true, fmt.Sprintf("%s ok at %s, backup %s", r.Slot, stamp(r.StartedAt), r.ManifestID))
	}
	return verdict(req, name, false, "no successful off-site copy in the last 24 hours")
}

// checkDailyCopies [E3]: each of the last DailyCopies days (counted back from the grace) has
// a successful backup.
func checkDailyCopies(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E3", "daily_copies"
	if p.DailyCopies == 0 {
		return notConfigured(req, name, "no daily copies promised")
	}
	end := f.Now.Add(-backupGrace)
	var missing []string
	for i := range p.DailyCopies {
		to := end.Add(-time.Duration(i) * 24 * time.Hour)
		if okRun(f.Runs, to.Add(-24*time.Hour), to, RunBackup, RunManual) == nil {
			missing = append(missing, "no backup in the 24 hours before "+stamp(to))
		}
	}
	ev := append([]string{fmt.Sprintf("days with a backup: %d of %d", p.DailyCopies-len(missing), p.DailyCopies)}, missing...)
	return verdict(req, name, len(missing) == 0, ev...)
}

// checkDrill [E4]: the newest finished restore drill passed.
func checkDrill(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E4", "restore_drill"
	if !p.Drill {
		return notConfigured(req, name, "no restore drill promised")
	}
	for _, r := range f.Runs { // newest first
		if r.Kind != RunDrill || r.Status == RunRunning {
			continue
		}
		ev := fmt.Sprintf("%s %s at %s, took %s", r.Slot, r.Status, stamp(r.StartedAt), r.Took().Round(time.Second))
		return verdict(req, name, r.Status == RunOK, ev)
	}
	return verdict(req, name, false, "no restore drill recorded recently")
}

// checkPasswordPolicy [B2, B5]: the policy in force asks at least the promised length. A
// password someone else set is always changed at the first login: the code enforces it.
func checkPasswordPolicy(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B2", "password_policy"
	if p.MinPasswordLength == 0 {
		return notConfigured(req, name, "no password length promised")
	}
	pw := f.Settings.Password
	return verdict(req, name, pw.MinLength >= p.MinPasswordLength,
		fmt.Sprintf("min_length %d (promised %d), classes %d, max_age_days %d, history %d", pw.MinLength,
			p.MinPasswordLength, pw.Classes, pw.MaxAgeDays, pw.History),
		"B5: a password set by someone else must be changed at the first login (always enforced)")
}

func countEvidence(what string, ids []string) []string {
	ev := []string{fmt.Sprintf("%s: %d", what, len(ids))}
	if len(ids) > 0 {
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		ev = append(ev, "ids: "+strings.Join(sorted, ", "))
	}
	return ev
}

// checkAdminTwoFactor [B6]: no owner or admin without a second factor.
func checkAdminTwoFactor(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B6", "admin_two_factor"
	if !p.AdminTwoFactor {
		return notConfigured(req, name, "no second factor for admins promised")
	}
	return verdict(req, name, len(f.AdminsWithoutTwoFactor) == 0, countEvidence("admins without a second factor", f.AdminsWithoutTwoFactor)...)
}

// checkIdle [B9]: sessions lock no later than promised.
func checkIdle(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B9", "idle_lock"
	if p.MaxIdleMinutes == 0 {
		return notConfigured(req, name, "no idle lock promised")
	}
	return verdict(req, name, f.Settings.IdleMinutes <= p.MaxIdleMinutes,
		fmt.Sprintf("idle_minutes %d (promised at most %d)", f.Settings.IdleMinutes, p.MaxIdleMinutes))
}

// checkOffboarding [B8]: nobody past their end date is still active.
func checkOffboarding(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B8", "offboarding"
	if !p.Offboarding {
		return notConfigured(req, name, "no offboarding promised")
	}
	return verdict(req, name, len(f.PastEndUnsuspended) == 0, countEvidence("users past their end date not suspended", f.PastEndUnsuspended)...)
}

// checkTraining [B15]: nobody reaching personal data is overdue for training.
func checkTraining(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B15", "training"
	if !p.Training {
		return notConfigured(req, name, "no annual training promised")
	}
	return verdict(req, name, len(f.TrainingOverdue) == 0, countEvidence("people whose training is overdue", f.TrainingOverdue)...)
}

// checkRetention [D1]: every category has a retention period; the last sweep is evidence.
func checkRetention(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "D1", "retention"
	if !p.Retention {
		return notConfigured(req, name, "no retention periods promised")
	}
	ev := countEvidence("categories without a retention period", f.CategoriesNoRetention)
	if len(f.CategoriesNoRetention) > 0 {
		ev[len(ev)-1] = "categories: " + strings.TrimPrefix(ev[len(ev)-1], "ids: ")
	}
	sweep := "last retention sweep: never"
	if !f.LastSweep.IsZero() {
		sweep = "last retention sweep: " + stamp(f.LastSweep)
	}
	return verdict(req, name, len(f.CategoriesNoRetention) == 0, append(ev, sweep)...)
}

// checkAuditChain [F3]: the chain verified when the facts were gathered.
func checkAuditChain(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "F3", "audit_chain"
	switch {
	case !p.AuditChain:
		return notConfigured(req, name, "no tamper-evident audit promised")
	case f.ChainError != "" || f.Chain == nil:
		return verdict(req, name, false, "audit chain broken: "+f.ChainError, "checked at "+stamp(f.Now))
	}
	return verdict(req, name, true, fmt.Sprintf("audit chain verified: %d events, head %x", f.Chain.Length, f.Chain.Head),
		"verified at "+stamp(f.Now))
}

// checkDPA [G1]: the tenant's owner accepted the data processing agreement in its current
// version (in the console, or by uploading a signed scan).
func checkDPA(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "G1", "dpa"
	switch {
	case !p.DPA:
		return notConfigured(req, name, "no data processing agreement promised")
	case f.DPAAccepted == nil:
		return verdict(req, name, false, "current version "+f.DPAVersion+": never accepted")
	case f.DPAAccepted.Version != f.DPAVersion:
		return verdict(req, name, false, "current version "+f.DPAVersion+": not accepted yet",
			fmt.Sprintf("version %s accepted at %s (%s)", f.DPAAccepted.Version, stamp(f.DPAAccepted.AcceptedAt), f.DPAAccepted.Method))
	}
	ev := []string{fmt.Sprintf("version %s accepted at %s by user %s (%s)", f.DPAVersion, stamp(f.DPAAccepted.AcceptedAt),
		f.DPAAccepted.UserID, f.DPAAccepted.Method)}
	if f.DPAAccepted.ScanSHA256 != "" {
		ev = append(ev, "signed scan sha256 "+f.DPAAccepted.ScanSHA256)
	}
	return verdict(req, name, true, ev...)
}

// checkSubprocessors [G2]: every host the installation hands data to (SMTP relay, SMS
// gateway, backup targets) is listed on an entry of the sub-processor register.
func checkSubprocessors(f *ComplianceFacts) ComplianceCheck {
	const req, name = "G2", "subprocessors"
	if len(f.ProcessorHosts) == 0 {
		return notConfigured(req, name, "no relay, gateway or off-site backup target configured")
	}
	ev := []string{fmt.Sprintf("hosts covered by the register: %d of %d", len(f.ProcessorHosts)-len(f.UncoveredHosts), len(f.ProcessorHosts))}
	for _, h := range f.UncoveredHosts {
		ev = append(ev, fmt.Sprintf("%s %s: not on any sub-processor entry", h.Role, h.Host))
	}
	return verdict(req, name, len(f.UncoveredHosts) == 0, ev...)
}
