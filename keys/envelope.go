package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"sync"

	"github.com/skjold-project/skjold"
)

// version is the first byte of every sealed value and wrapped key, so that the format can
// change later without guessing.
const version = 1

// Domain-separation labels: each use of a key gets its own associated data or derived key.
const (
	labelTenantWrap  = "skjold/tenant-key/v1"
	labelSubjectWrap = "skjold/subject-key/v1"
	labelValue       = "skjold/value/v1"
	labelWrapKey     = "skjold/subject-key-wrapping/v1"
	labelIndexKey    = "skjold/blind-index/v1"
	labelSecret      = "skjold/secret/v1"
)

var errOpen = skjold.Errorf(skjold.EINTERNAL, "a sealed value or wrapped key does not authenticate")

// Service is the skjold.KeyService over a Keyring.
type Service struct {
	ring *Keyring
}

// NewService returns a key service whose master keys come from ring.
func NewService(ring *Keyring) *Service { return &Service{ring: ring} }

var _ skjold.KeyService = (*Service)(nil)

// HasKey reports whether the key file holds master key id (primary, unwrap-only or retired).
func (s *Service) HasKey(id string) bool { return s.ring.HasKey(id) }

// PrimaryKeyID returns the id of the master key that new wraps use, after picking up any
// rotation written to the key file since it was last read.
func (s *Service) PrimaryKeyID() string {
	s.ring.Refresh() // on error the last good ring stays in use; a wrap will report the error
	return s.ring.PrimaryKeyID()
}

// NewTenantKey makes a fresh tenant key and wraps it under the primary master key.
func (s *Service) NewTenantKey(tenantID string) (skjold.TenantKey, string, []byte, error) {
	if err := s.ring.Refresh(); err != nil {
		return nil, "", nil, err
	}
	id := s.ring.PrimaryKeyID()
	master, err := s.ring.key(id)
	if err != nil {
		return nil, "", nil, err
	}
	raw := make([]byte, KeySize)
	rand.Read(raw)
	wrapped := seal(mustAEAD(master), raw, ad(labelTenantWrap, tenantID))
	tk, err := newTenantKey(tenantID, raw)
	return tk, id, wrapped, err
}

// OpenTenantKey unwraps a stored tenant key with the master key it names.
func (s *Service) OpenTenantKey(tenantID, masterKeyID string, wrapped []byte) (skjold.TenantKey, error) {
	raw, err := s.unwrapTenant(tenantID, masterKeyID, wrapped)
	if err != nil {
		return nil, err
	}
	return newTenantKey(tenantID, raw)
}

// RewrapTenantKey moves a stored tenant key under the primary master key.
func (s *Service) RewrapTenantKey(tenantID, masterKeyID string, wrapped []byte) (string, []byte, error) {
	if err := s.ring.Refresh(); err != nil {
		return "", nil, err
	}
	raw, err := s.unwrapTenant(tenantID, masterKeyID, wrapped)
	if err != nil {
		return "", nil, err
	}
	id := s.ring.PrimaryKeyID()
	master, err := s.ring.key(id)
	if err != nil {
		return "", nil, err
	}
	return id, seal(mustAEAD(master), raw, ad(labelTenantWrap, tenantID)), nil
}

// SealSecret seals a secret that belongs to no tenant under the primary master key.
func (s *Service) SealSecret(label, id string, plaintext []byte) (string, []byte, error) {
	if err := s.ring.Refresh(); err != nil {
		return "", nil, err
	}
	keyID := s.ring.PrimaryKeyID()
	master, err := s.ring.key(keyID)
	if err != nil {
		return "", nil, err
	}
	return keyID, seal(mustAEAD(master), plaintext, ad(labelSecret, label, id)), nil
}

// OpenSecret opens a secret sealed by SealSecret with the master key it names.
func (s *Service) OpenSecret(label, id, masterKeyID string, sealed []byte) ([]byte, error) {
	master, err := s.ring.key(masterKeyID)
	if err != nil {
		return nil, err
	}
	return open(mustAEAD(master), sealed, ad(labelSecret, label, id))
}

func (s *Service) unwrapTenant(tenantID, masterKeyID string, wrapped []byte) ([]byte, error) {
	master, err := s.ring.key(masterKeyID)
	if err != nil {
		return nil, err
	}
	return open(mustAEAD(master), wrapped, ad(labelTenantWrap, tenantID))
}

// tenantKey is an unwrapped tenant key: an AEAD for wrapping subject keys and an HMAC key for
// blind indexes, both derived from the tenant key with HKDF so that no key serves two uses.
type tenantKey struct {
	id       string
	wrap     cipher.AEAD
	indexKey []byte
	macs     sync.Pool
}

func newTenantKey(tenantID string, raw []byte) (*tenantKey, error) {
	wk, err := hkdf.Key(sha256.New, raw, nil, labelWrapKey, KeySize)
	if err != nil {
		return nil, err
	}
	ik, err := hkdf.Key(sha256.New, raw, nil, labelIndexKey, KeySize)
	if err != nil {
		return nil, err
	}
	tk := &tenantKey{id: tenantID, wrap: mustAEAD(wk), indexKey: ik}
	tk.macs.New = func() any { return hmac.New(sha256.New, tk.indexKey) }
	return tk, nil
}

func (t *tenantKey) NewSubjectKey(subjectID string) (skjold.SubjectKey, []byte, error) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	wrapped := seal(t.wrap, raw, ad(labelSubjectWrap, t.id, subjectID))
	return &subjectKey{tenantID: t.id, subjectID: subjectID, aead: mustAEAD(raw)}, wrapped, nil
}

func (t *tenantKey) OpenSubjectKey(subjectID string, wrapped []byte) (skjold.SubjectKey, error) {
	raw, err := open(t.wrap, wrapped, ad(labelSubjectWrap, t.id, subjectID))
	if err != nil {
		return nil, err
	}
	return &subjectKey{tenantID: t.id, subjectID: subjectID, aead: mustAEAD(raw)}, nil
}

func (t *tenantKey) BlindIndex(kind, normalised string) []byte {
	mac := t.macs.Get().(hash.Hash)
	defer t.macs.Put(mac)
	mac.Reset()
	mac.Write(ad(kind, normalised))
	return mac.Sum(nil)
}

// subjectKey seals a subject's values with associated data naming tenant, subject, record
// and field, so that a sealed value moved to another row or field no longer opens.
type subjectKey struct {
	tenantID, subjectID string
	aead                cipher.AEAD
}

func (k *subjectKey) Seal(recordID, field string, plaintext []byte) ([]byte, error) {
	return seal(k.aead, plaintext, ad(labelValue, k.tenantID, k.subjectID, recordID, field)), nil
}

func (k *subjectKey) Open(recordID, field string, sealed []byte) ([]byte, error) {
	return open(k.aead, sealed, ad(labelValue, k.tenantID, k.subjectID, recordID, field))
}

// seal returns version || nonce || ciphertext+tag, with a random 96-bit nonce. Each subject
// key seals few values, far below the 2^32 messages random nonces allow per key.
func seal(aead cipher.AEAD, plaintext, ad []byte) []byte {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, ad)
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := 1 + aead.NonceSize()
	if len(sealed) < n+aead.Overhead() || sealed[0] != version {
		return nil, errOpen
	}
	pt, err := aead.Open(nil, sealed[1:n], sealed[n:], ad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// ad encodes parts with length prefixes, so that ("ab","c") and ("a","bc") differ.
func ad(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func mustAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(errors.New("keys: AES key of wrong size")) // keys are always KeySize: a bug
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}
