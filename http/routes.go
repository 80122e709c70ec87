package http

import (
	"net/http"
	"slices"

	"github.com/skjold-project/skjold"
)

// perm is what a route needs: nothing (public); or a caller holding a tenant scope or an
// operator scope (either or both may be set); or any logged-in user (self). stages lists
// the session stages besides StageActive in which the route may be called: the steps of
// logging in.
type perm struct {
	public bool
	scope  string // a tenant caller (token or user) with this scope may call the route
	op     string // an operator caller with this operator scope may call the route
	self   bool   // any logged-in user may call the route, for its own account
	stages []string
}

var (
	public = perm{public: true}
	// self routes act on the caller's own account; in the login stages only the step
	// itself (and logging out, and looking at the session) is open.
	self     = perm{self: true}
	anyStage = perm{self: true, stages: []string{skjold.StageSecondFactor, skjold.StageChangePassword,
		skjold.StageEnrolTwoFactor, skjold.StageLocked, skjold.StageConfirmEmail}}
)

func tenant(scope string) perm          { return perm{scope: scope} }
func operator(scope string) perm        { return perm{op: scope} }
func either(scope, opScope string) perm { return perm{scope: scope, op: opScope} }
func stage(stages ...string) perm       { return perm{self: true, stages: stages} }

// allows returns nil when c may call a route needing p, and EFORBIDDEN otherwise.
func (p perm) allows(c *skjold.Caller) error {
	switch {
	case p.self && c.UserID != "":
		return nil
	case p.self && p.scope == "" && p.op == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "this route needs a logged-in user, not an API token")
	case c.Operator && p.op == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "operators cannot call this route: it needs a tenant's user or token")
	case c.Operator && !c.Can(p.op):
		return skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q permission", p.op)
	case c.Operator:
		return nil
	case p.scope == "":
		return skjold.Errorf(skjold.EFORBIDDEN, "this route is for operators")
	case !c.Can(p.scope):
		return skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q scope", p.scope)
	}
	return nil
}

// allowsStage returns nil when a session in stage st may call a route needing p.
func (p perm) allowsStage(st string) error {
	if st == skjold.StageActive || slices.Contains(p.stages, st) {
		return nil
	}
	if st == skjold.StageLocked {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "the session is locked after inactivity: unlock it with your password")
	}
	return skjold.Errorf(skjold.EFORBIDDEN, "finish logging in first: this session's next step is %s", st)
}

type route struct {
	pattern string
	perm    perm
	handler http.Handler
}

// routes is the whole API surface, each route with the permission it needs.
func (s *Server) routes() []route {
	const (
		read, write, admin, audit = skjold.ScopeRead, skjold.ScopeWrite, skjold.ScopeAdmin, skjold.ScopeAudit
		opRead, opManage, opStaff = skjold.ScopeOperatorRead, skjold.ScopeOperatorManage, skjold.ScopeOperatorStaff
	)
	return []route{
		{"GET /healthz", public, s.handleHealth()},
		{"GET /livez", public, s.handleLive()},
		{"GET /readyz", public, s.handleReady()},
		{"GET /api/v1/openapi.json", public, s.handleOpenAPI()},
		{"GET /metrics", operator(opRead), s.metrics.handler()},

		{"POST /api/v1/auth/login", public, s.handleLogin()},
		{"POST /api/v1/auth/logout", anyStage, s.handleLogout()},
		{"GET /api/v1/auth/session", anyStage, s.handleSessionGet()},
		{"POST /api/v1/auth/second-factor", stage(skjold.StageSecondFactor), s.handleSecondFactor()},
		{"POST /api/v1/auth/unlock", stage(skjold.StageLocked), s.handleUnlock()},
		{"POST /api/v1/auth/email-confirmation", stage(skjold.StageConfirmEmail), s.handleEmailConfirm()},
		{"POST /api/v1/auth/email-confirmation/code", stage(skjold.StageConfirmEmail), s.handleEmailConfirmationCode()},
		{"POST /api/v1/auth/password", stage(skjold.StageChangePassword, skjold.StageEnrolTwoFactor), s.handlePasswordChange()},
		{"POST /api/v1/auth/two-factor", stage(skjold.StageEnrolTwoFactor), s.handleTwoFactorBegin()},
		{"POST /api/v1/auth/two-factor/confirm", stage(skjold.StageEnrolTwoFactor), s.handleTwoFactorConfirm()},
		{"POST /api/v1/auth/reset", public, s.handleResetRequest()},
		{"POST /api/v1/auth/reset/complete", public, s.handleResetComplete()},
		{"GET /api/v1/sessions", self, s.handleSessionList()},
		{"DELETE /api/v1/sessions/{id}", self, s.handleSessionRevoke()},

		{"POST /api/v1/users", either(admin, opStaff), s.handleUserCreate()},
		{"GET /api/v1/users", either(admin, opStaff), s.handleUserList()},
		{"GET /api/v1/users/{id}", either(admin, opStaff), s.handleUserGet()},
		{"PATCH /api/v1/users/{id}", either(admin, opStaff), s.handleUserUpdate()},
		{"POST /api/v1/users/{id}/suspend", either(admin, opStaff), s.handleUserSuspend(true)},
		{"POST /api/v1/users/{id}/resume", either(admin, opStaff), s.handleUserSuspend(false)},
		{"GET /api/v1/profiles", tenant(admin), s.handleProfileList()},
		{"GET /api/v1/profiles/{name}", tenant(admin), s.handleProfileGet()},
		{"PUT /api/v1/profiles/{name}", tenant(admin), s.handleProfilePut()},
		{"DELETE /api/v1/profiles/{name}", tenant(admin), s.handleProfileDelete()},
		{"GET /api/v1/settings/session", either(admin, opStaff), s.handleSessionSettingsGet()},
		{"PUT /api/v1/settings/session", either(admin, opStaff), s.handleSessionSettingsPut()},
		{"GET /api/v1/settings/read-budget", either(admin, opRead), s.handleReadBudgetGet()},
		{"PUT /api/v1/settings/read-budget", either(admin, opManage), s.handleReadBudgetPut()},

		{"POST /api/v1/approvals", either(admin, opStaff), s.handleApprovalRequest()},
		{"GET /api/v1/approvals", either(admin, opStaff), s.handleApprovalList()},
		{"POST /api/v1/approvals/{id}/approve", either(admin, opStaff), s.handleApprovalDecide(true)},
		{"POST /api/v1/approvals/{id}/reject", either(admin, opStaff), s.handleApprovalDecide(false)},
		{"POST /api/v1/grants", tenant(admin), s.handleGrantCreate()},
		{"GET /api/v1/grants", either(admin, opRead), s.handleGrantList()},
		{"DELETE /api/v1/grants/{id}", either(admin, opRead), s.handleGrantRevoke()},
		{"POST /api/v1/operator/grant-requests", operator(opRead), s.handleGrantRequestCreate()},
		{"GET /api/v1/operator/grant-requests", either(admin, opRead), s.handleGrantRequestList()},
		{"POST /api/v1/operator/grant-requests/{id}/approve", tenant(admin), s.handleGrantRequestApprove()},
		{"POST /api/v1/operator/grant-requests/{id}/deny", tenant(admin), s.handleGrantRequestDeny()},

		{"GET /api/v1/register", tenant(audit), s.handleRegister()},
		{"GET /api/v1/compliance", either(admin, opRead), s.handleCompliance()},
		{"GET /api/v1/compliance/profile", either(admin, opRead), s.handleComplianceProfileGet()},
		{"PUT /api/v1/compliance/profile", either(admin, opManage), s.handleComplianceProfilePut()},
		{"GET /api/v1/compliance/documents/{kind}", either(admin, opRead), s.handleComplianceDocument()},
		{"GET /api/v1/compliance/measures", either(admin, opRead), s.handleOrgMeasures()},
		{"POST /api/v1/compliance/measures", either(admin, opManage), s.handleOrgMeasureAdd()},
		{"DELETE /api/v1/compliance/measures/{id}", either(admin, opManage), s.handleOrgMeasureDelete()},
		{"GET /api/v1/maintenance", either(read, opRead), s.handleMaintenanceList()},
		{"POST /api/v1/maintenance", operator(opManage), s.handleMaintenanceSchedule()},
		{"DELETE /api/v1/maintenance/{id}", operator(opManage), s.handleMaintenanceCancel()},
		{"GET /api/v1/incidents", either(admin, opRead), s.handleIncidentList()},
		{"POST /api/v1/incidents", either(admin, opManage), s.handleIncidentCreate()},
		{"GET /api/v1/incidents/{id}", either(admin, opRead), s.handleIncidentGet()},
		{"PATCH /api/v1/incidents/{id}/decision", either(admin, opManage), s.handleIncidentDecision()},
		{"GET /api/v1/incidents/{id}/timeline", either(admin, opRead), s.handleIncidentTimeline()},
		{"POST /api/v1/incidents/{id}/timeline", either(admin, opManage), s.handleIncidentNote()},
		{"POST /api/v1/incidents/{id}/scope", either(admin, opManage), s.handleIncidentScope()},
		{"POST /api/v1/incidents/{id}/close", either(admin, opManage), s.handleIncidentClose()},
		{"POST /api/v1/incidents/{id}/acknowledge", tenant(admin), s.handleIncidentAcknowledge()},
		{"GET /api/v1/incidents/{id}/drafts/{kind}", either(admin, opRead), s.handleIncidentDraft()},

		{"GET /api/v1/subprocessors", either(read, opRead), s.handleSubprocessors()},
		{"POST /api/v1/subprocessors", operator(opManage), s.handleSubprocessorAdd()},
		{"DELETE /api/v1/subprocessors/{id}", operator(opManage), s.handleSubprocessorRemove()},
		{"POST /api/v1/subprocessors/{id}/objection", tenant(admin), s.handleSubprocessorObject()},
		{"GET /api/v1/dpa", tenant(admin), s.handleDPA()},
		{"POST /api/v1/dpa/accept", tenant(admin), s.handleDPAAccept()},
		{"POST /api/v1/dpa/scan", tenant(admin), s.handleDPAScan()},
		{"GET /api/v1/dpa/scan/{id}", tenant(admin), s.handleDPAScanGet()},
		{"GET /api/v1/copies", either(admin, opRead), s.handleCopies()},
		{"POST /api/v1/copies", either(admin, opManage), s.handleCopyRecord()},
		{"POST /api/v1/copies/{id}/deleted", either(admin, opManage), s.handleCopyDeleted()},
		{"GET /api/v1/media", either(admin, opRead), s.handleMedia()},
		{"POST /api/v1/media", either(admin, opManage), s.handleMediumRecord()},
		{"PUT /api/v1/media/{id}/certificate", either(admin, opManage), s.handleCertificatePut()},
		{"GET /api/v1/media/{id}/certificate", either(admin, opRead), s.handleCertificateGet()},

		{"POST /api/v1/requests", tenant(write), s.handleRequestOpen()},
		{"GET /api/v1/requests", tenant(read), s.handleRequestList()},
		{"GET /api/v1/requests/{id}", tenant(read), s.handleRequestGet()},
		{"POST /api/v1/requests/{id}/verify", public, s.handleRequestVerify()},
		{"POST /api/v1/requests/{id}/resend", tenant(write), s.handleRequestResend()},
		{"POST /api/v1/requests/{id}/extend", tenant(write), s.handleRequestExtend()},
		{"POST /api/v1/requests/{id}/refuse", tenant(write), s.handleRequestRefuse()},
		{"POST /api/v1/requests/{id}/complete", tenant(write), s.handleRequestComplete()},
		{"GET /api/v1/downloads/{secret}", public, s.handleDownload()},
		{"GET /api/v1/settings/privacy", tenant(read), s.handlePrivacyNoticeGet()},
		{"PUT /api/v1/settings/privacy", tenant(admin), s.handlePrivacyNoticePut()},
		{"GET /api/v1/settings/banner", tenant(read), s.handleBannerSettingsGet()},
		{"PUT /api/v1/settings/banner", tenant(admin), s.handleBannerSettingsPut()},
		{"GET /api/v1/consent-receipts", tenant(read), s.handleReceiptExport()},

		{"GET /api/v1/blocklist", operator(opRead), s.handleBlockListGet()},
		{"PUT /api/v1/blocklist", operator(opManage), s.handleBlockListPut()},
		{"GET /api/v1/bans", operator(opRead), s.handleBanList()},
		{"DELETE /api/v1/bans/{addr}", operator(opManage), s.handleUnban()},
		{"GET /api/v1/operator/alerts", operator(opRead), s.handleAlertSettingsGet()},
		{"PUT /api/v1/operator/alerts", operator(opManage), s.handleAlertSettingsPut()},
		{"POST /api/v1/operator/alerts/test", operator(opManage), s.handleAlertTest()},

		{"POST /api/v1/tenants", operator(opManage), s.handleTenantCreate()},
		{"GET /api/v1/tenants", operator(opRead), s.handleTenantList()},
		{"GET /api/v1/tenants/{id}", operator(opRead), s.handleTenantGet()},
		{"POST /api/v1/tenants/{id}/reactivate", operator(opManage), s.handleTenantReactivate()},
		{"GET /api/v1/tenants/{id}/certificate", operator(opRead), s.handleTenantCertificate()},

		{"POST /api/v1/tokens", either(admin, opManage), s.handleTokenCreate()},
		{"GET /api/v1/tokens", either(admin, opManage), s.handleTokenList()},
		{"DELETE /api/v1/tokens/{id}", either(admin, opManage), s.handleTokenRevoke()},

		{"GET /api/v1/categories", tenant(read), s.handleCategoryList()},
		{"GET /api/v1/categories/{name}", tenant(read), s.handleCategoryGet()},
		{"PUT /api/v1/categories/{name}", tenant(admin), s.handleCategoryPut()},
		{"GET /api/v1/retention/plan", tenant(read), s.handleRetentionPlan()},
		{"PUT /api/v1/subjects/{id}/relationship", tenant(write), s.handleSubjectRelationship()},

		{"POST /api/v1/subjects", tenant(write), s.handleSubjectCreate()},
		{"POST /api/v1/import", tenant(write), s.handleImport()},
		{"GET /api/v1/subjects", tenant(read), s.handleSubjectList()},
		{"GET /api/v1/subjects/{id}", tenant(read), s.handleSubjectGet()},
		{"PATCH /api/v1/subjects/{id}", tenant(write), s.handleSubjectUpdate()},
		{"DELETE /api/v1/subjects/{id}", tenant(write), s.handleSubjectDelete()},
		{"POST /api/v1/subjects/{id}/erasure", tenant(write), s.handleSubjectErasure()},
		{"POST /api/v1/holds", tenant(admin), s.handleHoldCreate()},
		{"GET /api/v1/holds", tenant(read), s.handleHoldList()},
		{"DELETE /api/v1/holds/{id}", tenant(admin), s.handleHoldRelease()},
		{"GET /api/v1/erasure-journal", operator(opRead), s.handleErasureJournal()},

		{"GET /api/v1/backups", operator(opRead), s.handleBackupList()},
		{"POST /api/v1/backups", operator(opManage), s.handleBackupRun()},
		{"POST /api/v1/backups/{id}/verify", operator(opManage), s.handleBackupVerify()},
		{"GET /api/v1/backups/runs", operator(opRead), s.handleBackupRuns()},
		{"GET /api/v1/cluster", operator(opRead), s.handleCluster()},

		{"POST /api/v1/subjects/{id}/records", tenant(write), s.handleRecordCreate()},
		{"GET /api/v1/subjects/{id}/records", tenant(read), s.handleRecordList()},
		{"GET /api/v1/records/{id}", tenant(read), s.handleRecordGet()},
		{"PATCH /api/v1/records/{id}", tenant(write), s.handleRecordUpdate()},
		{"DELETE /api/v1/records/{id}", tenant(write), s.handleRecordDelete()},

		{"GET /api/v1/purposes", tenant(read), s.handlePurposeList()},
		{"PUT /api/v1/purposes/{name}", tenant(admin), s.handlePurposePut()},
		{"GET /api/v1/subjects/{id}/consents", tenant(read), s.handleConsentList()},
		{"POST /api/v1/subjects/{id}/consents", tenant(write), s.handleConsentRecord()},
		{"PUT /api/v1/subjects/{id}/restriction", tenant(write), s.handleRestriction(true)},
		{"DELETE /api/v1/subjects/{id}/restriction", tenant(write), s.handleRestriction(false)},
		{"PUT /api/v1/subjects/{id}/objection", tenant(write), s.handleObjection(true)},
		{"DELETE /api/v1/subjects/{id}/objection", tenant(write), s.handleObjection(false)},
		{"POST /api/v1/contact-check", tenant(write), s.handleContactCheck()},
		{"POST /api/v1/contact-sms", tenant(write), s.handleContactSMS()},

		{"GET /api/v1/audit", either(audit, opRead), s.handleAuditList()},
		{"GET /api/v1/audit/verify", operator(opRead), s.handleAuditVerify()},
		{"GET /api/v1/export", tenant(skjold.ScopeExport), s.handleExport()},
	}
}
