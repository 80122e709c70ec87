package skjold

// KeyService is the top of the envelope key hierarchy: a master key, never stored in the
// database, wraps one key per tenant; the tenant key wraps one data key per subject.
type KeyService interface {
	// NewTenantKey makes a fresh tenant key and returns it with its wrapped form and the id of
	// the master key that wrapped it, to be stored beside the tenant.
	NewTenantKey(tenantID string) (key TenantKey, masterKeyID string, wrapped []byte, err error)

	// OpenTenantKey unwraps a stored tenant key. It returns EINTERNAL when the master key id is
	// unknown or the wrapped key does not authenticate for tenantID.
	OpenTenantKey(tenantID, masterKeyID string, wrapped []byte) (TenantKey, error)

	// RewrapTenantKey unwraps a stored tenant key and wraps it again under the current primary
	// master key, without changing the tenant key itself (so no data is re-encrypted).
	RewrapTenantKey(tenantID, masterKeyID string, wrapped []byte) (newMasterKeyID string, rewrapped []byte, err error)

	// PrimaryKeyID returns the id of the master key that new wraps use.
	PrimaryKeyID() string

	// SealSecret seals a small secret that belongs to no tenant (a staff member's TOTP
	// seed) under the primary master key, bound to label and id, and returns the id of the
	// master key used, to be stored beside it.
	SealSecret(label, id string, plaintext []byte) (masterKeyID string, sealed []byte, err error)

	// OpenSecret reverses SealSecret. It returns EINTERNAL when the master key id is unknown
	// or the sealed secret does not authenticate for label and id.
	OpenSecret(label, id, masterKeyID string, sealed []byte) ([]byte, error)
}

// TenantKey is one tenant's unwrapped key. Destroying its wrapped form destroys every
// subject's data of the tenant (crypto-shredding).
type TenantKey interface {
	// NewSubjectKey makes a fresh data key for a subject and returns it with its wrapped form.
	NewSubjectKey(subjectID string) (key SubjectKey, wrapped []byte, err error)

	// OpenSubjectKey unwraps a subject's stored data key. It returns EINTERNAL when the
	// wrapped key does not authenticate for subjectID.
	OpenSubjectKey(subjectID string, wrapped []byte) (SubjectKey, error)

	// BlindIndex returns a keyed hash (HMAC-SHA-256 under a key derived from the tenant key)
	// of a normalised value of the given kind, so that subjects can be found by e-mail,
	// phone or reference without decrypting anything.
	BlindIndex(kind, normalised string) []byte
}

// SubjectKey is one subject's unwrapped data key. Every personal value of the subject is
// sealed with it, bound to tenant, subject, record and field.
type SubjectKey interface {
	// Seal encrypts plaintext for the given record ("" for the subject's own profile) and field.
	Seal(recordID, field string, plaintext []byte) ([]byte, error)

	// Open decrypts a sealed value. It returns EINTERNAL when the value does not
	// authenticate for this subject, record and field (tampered, or moved).
	Open(recordID, field string, sealed []byte) ([]byte, error)
}
