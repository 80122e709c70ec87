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
	// Details is Evidence again, line for line, as message keys with their arguments, so
	// that the console and the documents can show it in the reader's language. The API and
	// the CLI keep the English Evidence.
	Details []Evidence `json:"-"`
}

// Evidence is one line of a check's evidence: Key names a message of the catalogues'
// [compliance.ev] table, Args fills its placeholders (times as time.Time, counts as int, so
// that a catalogue formats them its way) and Text is the English line the API shows.
type Evidence struct {
	Key  string
	Args map[string]any
	Text string
}

// Pairs returns Args as name, value pairs in name order, the form a catalogue's T takes.
func (e Evidence) Pairs() []any {
	names := make([]string, 0, len(e.Args))
	for n := range e.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]any, 0, 2*len(names))
	for _, n := range names {
		out = append(out, n, e.Args[n])
	}
	return out
}

// EvidenceTerm is an argument of an evidence line that is itself a word to translate (a
// host's role, how an agreement was accepted, a run's outcome): the catalogues hold it
// under compliance.ev.term.<value>. The English Text shows the value as it is.
type EvidenceTerm string

// Render writes e with t, a catalogue's T: terms among the arguments are translated first.
func (e Evidence) Render(t func(key string, args ...any) string) string {
	pairs := e.Pairs()
	for i := 1; i < len(pairs); i += 2 {
		if term, ok := pairs[i].(EvidenceTerm); ok {
			pairs[i] = t("compliance.ev.term." + string(term))
		}
	}
	return t(e.Key, pairs...)
}

// ev is an evidence line with key (in the [compliance.ev] table), its English text and its
// arguments as name, value pairs.
func ev(key, text string, args ...any) Evidence {
	e := Evidence{Key: "compliance.ev." + key, Text: text, Args: map[string]any{}}
	for i := 0; i+1 < len(args); i += 2 {
		e.Args[args[i].(string)] = args[i+1]
	}
	return e
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

func verdict(req, name string, ok bool, evidence ...Evidence) ComplianceCheck {
	s := CheckFail
	if ok {
		s = CheckPass
	}
	return withEvidence(ComplianceCheck{Requirement: req, Check: name, Status: s}, evidence)
}

func withEvidence(ch ComplianceCheck, evidence []Evidence) ComplianceCheck {
	ch.Evidence, ch.Details = make([]string, len(evidence)), append([]Evidence{}, evidence...)
	for i, e := range evidence {
		ch.Evidence[i] = e.Text
	}
	return ch
}

// notConfigured is the outcome of a check nothing was promised for; its evidence says so
// (key compliance.ev.not_promised_<name>).
func notConfigured(req, name, why string) ComplianceCheck {
	return withEvidence(ComplianceCheck{Requirement: req, Check: name, Status: CheckNotConfigured},
		[]Evidence{ev("not_promised_"+name, why)})
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
	ok, evs := true, []Evidence{}
	judged := f.Now.Add(-backupGrace)
	for _, hm := range p.BackupTimes {
		at, _ := time.Parse("15:04", hm)
		d := judged.In(loc)
		occ := time.Date(d.Year(), d.Month(), d.Day(), at.Hour(), at.Minute(), 0, 0, loc)
		if occ.After(judged) {
			occ = occ.AddDate(0, 0, -1)
		}
		if r := okRun(f.Runs, occ.Add(-5*time.Minute), occ.Add(backupGrace), RunBackup); r != nil {
			evs = append(evs, ev("backup_ok", fmt.Sprintf("%s: %s ok at %s, backup %s", hm, r.Slot, stamp(r.StartedAt), r.ManifestID),
				"at", hm, "slot", r.Slot, "time", r.StartedAt, "backup", r.ManifestID))
		} else {
			ok = false
			evs = append(evs, ev("backup_missing", fmt.Sprintf("%s: no successful backup for %s", hm, stamp(occ)), "at", hm, "time", occ))
		}
	}
	return verdict(req, name, ok, evs...)
}

// checkOffsite [E2]: an off-site copy finished ok in the last day (and the grace).
func checkOffsite(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E2", "offsite_copy"
	if !p.Offsite {
		return notConfigured(req, name, "no off-site copy promised")
	}
	if r := okRun(f.Runs, f.Now.Add(-24*time.Hour-backupGrace), f.Now, RunOffsite); r != nil {
		return verdict(req, name, true, ev("offsite_ok", fmt.Sprintf("%s ok at %s, backup %s", r.Slot, stamp(r.StartedAt), r.ManifestID),
			"slot", r.Slot, "time", r.StartedAt, "backup", r.ManifestID))
	}
	return verdict(req, name, false, ev("offsite_missing", "no successful off-site copy in the last 24 hours"))
}

// checkDailyCopies [E3]: each of the last DailyCopies days (counted back from the grace) has
// a successful backup.
func checkDailyCopies(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "E3", "daily_copies"
	if p.DailyCopies == 0 {
		return notConfigured(req, name, "no daily copies promised")
	}
	end := f.Now.Add(-backupGrace)
	var missing []Evidence
	for i := range p.DailyCopies {
		to := end.Add(-time.Duration(i) * 24 * time.Hour)
		if okRun(f.Runs, to.Add(-24*time.Hour), to, RunBackup, RunManual) == nil {
			missing = append(missing, ev("daily_missing", "no backup in the 24 hours before "+stamp(to), "time", to))
		}
	}
	n := p.DailyCopies - len(missing)
	evs := append([]Evidence{ev("daily_count", fmt.Sprintf("days with a backup: %d of %d", n, p.DailyCopies),
		"count", n, "of", p.DailyCopies)}, missing...)
	return verdict(req, name, len(missing) == 0, evs...)
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
		took := r.Took().Round(time.Second)
		key := "drill_ok"
		if r.Status != RunOK {
			key = "drill_not_ok"
		}
		return verdict(req, name, r.Status == RunOK, ev(key, fmt.Sprintf("%s %s at %s, took %s", r.Slot, r.Status, stamp(r.StartedAt), took),
			"slot", r.Slot, "status", EvidenceTerm("status."+r.Status), "time", r.StartedAt, "took", took.String()))
	}
	return verdict(req, name, false, ev("drill_none", "no restore drill recorded recently"))
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
		ev("password", fmt.Sprintf("min_length %d (promised %d), classes %d, max_age_days %d, history %d", pw.MinLength,
			p.MinPasswordLength, pw.Classes, pw.MaxAgeDays, pw.History),
			"min", pw.MinLength, "promised", p.MinPasswordLength, "classes", pw.Classes, "max_age", pw.MaxAgeDays, "history", pw.History),
		ev("password_first_login", "B5: a password set by someone else must be changed at the first login (always enforced)"))
}

// countEvidence is the count of ids (key compliance.ev.<key>) and, when there are any, the
// ids themselves (key compliance.ev.<idsKey>, English prefix idsWhat).
func countEvidence(key, what, idsKey, idsWhat string, ids []string) []Evidence {
	evs := []Evidence{ev(key, fmt.Sprintf("%s: %d", what, len(ids)), "count", len(ids))}
	if len(ids) > 0 {
		sorted := append([]string(nil), ids...)
		sort.Strings(sorted)
		list := strings.Join(sorted, ", ")
		evs = append(evs, ev(idsKey, idsWhat+": "+list, "ids", list))
	}
	return evs
}

// checkAdminTwoFactor [B6]: no owner or admin without a second factor.
func checkAdminTwoFactor(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B6", "admin_two_factor"
	if !p.AdminTwoFactor {
		return notConfigured(req, name, "no second factor for admins promised")
	}
	return verdict(req, name, len(f.AdminsWithoutTwoFactor) == 0, countEvidence("admins_without_two_factor", "admins without a second factor", "ids", "ids", f.AdminsWithoutTwoFactor)...)
}

// checkIdle [B9]: sessions lock no later than promised.
func checkIdle(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B9", "idle_lock"
	if p.MaxIdleMinutes == 0 {
		return notConfigured(req, name, "no idle lock promised")
	}
	return verdict(req, name, f.Settings.IdleMinutes <= p.MaxIdleMinutes,
		ev("idle", fmt.Sprintf("idle_minutes %d (promised at most %d)", f.Settings.IdleMinutes, p.MaxIdleMinutes),
			"idle", f.Settings.IdleMinutes, "promised", p.MaxIdleMinutes))
}

// checkOffboarding [B8]: nobody past their end date is still active.
func checkOffboarding(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B8", "offboarding"
	if !p.Offboarding {
		return notConfigured(req, name, "no offboarding promised")
	}
	return verdict(req, name, len(f.PastEndUnsuspended) == 0, countEvidence("past_end_unsuspended", "users past their end date not suspended", "ids", "ids", f.PastEndUnsuspended)...)
}

// checkTraining [B15]: nobody reaching personal data is overdue for training.
func checkTraining(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "B15", "training"
	if !p.Training {
		return notConfigured(req, name, "no annual training promised")
	}
	return verdict(req, name, len(f.TrainingOverdue) == 0, countEvidence("training_overdue", "people whose training is overdue", "ids", "ids", f.TrainingOverdue)...)
}

// checkRetention [D1]: every category has a retention period; the last sweep is evidence.
func checkRetention(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "D1", "retention"
	if !p.Retention {
		return notConfigured(req, name, "no retention periods promised")
	}
	evs := countEvidence("categories_without_retention", "categories without a retention period", "categories", "categories",
		f.CategoriesNoRetention)
	sweep := ev("sweep_never", "last retention sweep: never")
	if !f.LastSweep.IsZero() {
		sweep = ev("sweep", "last retention sweep: "+stamp(f.LastSweep), "time", f.LastSweep)
	}
	return verdict(req, name, len(f.CategoriesNoRetention) == 0, append(evs, sweep)...)
}

// checkAuditChain [F3]: the chain verified when the facts were gathered.
func checkAuditChain(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "F3", "audit_chain"
	switch {
	case !p.AuditChain:
		return notConfigured(req, name, "no tamper-evident audit promised")
	case f.ChainError != "" || f.Chain == nil:
		return verdict(req, name, false, ev("chain_broken", "audit chain broken: "+f.ChainError, "error", f.ChainError),
			ev("checked_at", "checked at "+stamp(f.Now), "time", f.Now))
	}
	head := fmt.Sprintf("%x", f.Chain.Head)
	return verdict(req, name, true, ev("chain_verified", fmt.Sprintf("audit chain verified: %d events, head %s", f.Chain.Length, head),
		"count", f.Chain.Length, "head", head),
		ev("verified_at", "verified at "+stamp(f.Now), "time", f.Now))
}

// checkDPA [G1]: the tenant's owner accepted the data processing agreement in its current
// version (in the console, or by uploading a signed scan).
func checkDPA(p ComplianceProfile, f *ComplianceFacts) ComplianceCheck {
	const req, name = "G1", "dpa"
	switch {
	case !p.DPA:
		return notConfigured(req, name, "no data processing agreement promised")
	case f.DPAAccepted == nil:
		return verdict(req, name, false, ev("dpa_never", "current version "+f.DPAVersion+": never accepted", "version", f.DPAVersion))
	case f.DPAAccepted.Version != f.DPAVersion:
		a := f.DPAAccepted
		return verdict(req, name, false, ev("dpa_not_yet", "current version "+f.DPAVersion+": not accepted yet", "version", f.DPAVersion),
			ev("dpa_older", fmt.Sprintf("version %s accepted at %s (%s)", a.Version, stamp(a.AcceptedAt), a.Method),
				"version", a.Version, "time", a.AcceptedAt, "method", EvidenceTerm("method."+a.Method)))
	}
	a := f.DPAAccepted
	evs := []Evidence{ev("dpa_accepted", fmt.Sprintf("version %s accepted at %s by user %s (%s)", f.DPAVersion, stamp(a.AcceptedAt),
		a.UserID, a.Method), "version", f.DPAVersion, "time", a.AcceptedAt, "user", a.UserID, "method", EvidenceTerm("method."+a.Method))}
	if a.ScanSHA256 != "" {
		evs = append(evs, ev("dpa_scan", "signed scan sha256 "+a.ScanSHA256, "sha256", a.ScanSHA256))
	}
	return verdict(req, name, true, evs...)
}

// checkSubprocessors [G2]: every host the installation hands data to (SMTP relay, SMS
// gateway, backup targets) is listed on an entry of the sub-processor register.
func checkSubprocessors(f *ComplianceFacts) ComplianceCheck {
	const req, name = "G2", "subprocessors"
	if len(f.ProcessorHosts) == 0 {
		return notConfigured(req, name, "no relay, gateway or off-site backup target configured")
	}
	n := len(f.ProcessorHosts) - len(f.UncoveredHosts)
	evs := []Evidence{ev("hosts_covered", fmt.Sprintf("hosts covered by the register: %d of %d", n, len(f.ProcessorHosts)),
		"count", n, "of", len(f.ProcessorHosts))}
	for _, h := range f.UncoveredHosts {
		evs = append(evs, ev("host_uncovered", fmt.Sprintf("%s %s: not on any sub-processor entry", h.Role, h.Host),
			"role", EvidenceTerm("role."+h.Role), "host", h.Host))
	}
	return verdict(req, name, len(f.UncoveredHosts) == 0, evs...)
}
