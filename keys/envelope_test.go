package keys

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// newTestService returns a key service over a fresh key file.
func newTestService(t *testing.T) *Service {
	t.Helper()
	ring, _ := newTestRing(t)
	return NewService(ring)
}

// newTestTenant returns a fresh, open tenant key for tenantID.
func newTestTenant(t *testing.T, tenantID string) skjold.TenantKey {
	t.Helper()
	tk, _, _ := wrapTenant(t, newTestService(t), tenantID)
	return tk
}

// newTestSubject makes a subject key under tk and returns it with its wrapped form.
func newTestSubject(t *testing.T, tk skjold.TenantKey, subjectID string) (skjold.SubjectKey, []byte) {
	t.Helper()
	sk, wrapped, err := tk.NewSubjectKey(subjectID)
	if err != nil {
		t.Fatalf("NewSubjectKey(%q): %v", subjectID, err)
	}
	return sk, wrapped
}

func mustSeal(t *testing.T, sk skjold.SubjectKey, recordID, field string, plaintext []byte) []byte {
	t.Helper()
	sealed, err := sk.Seal(recordID, field, plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// wantRefused checks that an unwrap or open failed as an internal error and returned nothing.
func wantRefused[T comparable](t *testing.T, what string, got T, err error) {
	t.Helper()
	var zero T
	if err == nil {
		t.Fatalf("%s succeeded, want an error", what)
	}
	if got != zero {
		t.Errorf("%s returned %v along with its error", what, got)
	}
	if code := skjold.ErrorCode(err); code != skjold.EINTERNAL {
		t.Errorf("%s: error code = %q, want %q", what, code, skjold.EINTERNAL)
	}
}

// wantOpenRefused checks that opening sealed fails with EINTERNAL and returns no plaintext.
func wantOpenRefused(t *testing.T, what string, sk skjold.SubjectKey, recordID, field string, sealed []byte) {
	t.Helper()
	pt, err := sk.Open(recordID, field, sealed)
	if err == nil {
		t.Fatalf("%s: Open succeeded with %q, want an error", what, pt)
	}
	if pt != nil {
		t.Errorf("%s: Open returned plaintext along with its error", what)
	}
	if code := skjold.ErrorCode(err); code != skjold.EINTERNAL {
		t.Errorf("%s: error code = %q, want %q", what, code, skjold.EINTERNAL)
	}
}

func TestTenantKeyRoundTrip(t *testing.T) {
	svc := newTestService(t)
	tk, masterID, wrapped := wrapTenant(t, svc, "t1")
	if masterID != svc.PrimaryKeyID() {
		t.Errorf("wrapped under %s, want the primary %s", masterID, svc.PrimaryKeyID())
	}

	first := mustOpenTenant(t, svc, "t1", masterID, wrapped)
	second := mustOpenTenant(t, svc, "t1", masterID, wrapped)
	want := tk.BlindIndex("email", "a@example.org")
	for i, opened := range []skjold.TenantKey{first, second} {
		if got := opened.BlindIndex("email", "a@example.org"); !bytes.Equal(got, want) {
			t.Errorf("opening %d: BlindIndex = %x, want %x", i+1, got, want)
		}
	}

	// A subject key wrapped by the new tenant key opens under the reopened one.
	sk, wrappedSubject := newTestSubject(t, tk, "s1")
	sealed := mustSeal(t, sk, "r1", "name", []byte("Ada"))
	reopened, err := second.OpenSubjectKey("s1", wrappedSubject)
	if err != nil {
		t.Fatalf("OpenSubjectKey: %v", err)
	}
	if pt, err := reopened.Open("r1", "name", sealed); err != nil || string(pt) != "Ada" {
		t.Errorf("Open = %q, %v; want %q", pt, err, "Ada")
	}
}

func TestOpenTenantKeyRefused(t *testing.T) {
	svc := newTestService(t)
	_, masterID, wrapped := wrapTenant(t, svc, "t1")
	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)/2] ^= 0x01

	tests := []struct {
		name     string
		tenantID string
		masterID string
		wrapped  []byte
	}{
		{"wrong tenant", "t2", masterID, wrapped},
		{"tenant prefix", "t", masterID, wrapped},
		{"unknown master key", "t1", "0123456789abcdef", wrapped},
		{"flipped bit", "t1", masterID, flipped},
		{"truncated", "t1", masterID, wrapped[:len(wrapped)-1]},
		{"empty", "t1", masterID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := svc.OpenTenantKey(tt.tenantID, tt.masterID, tt.wrapped)
			wantRefused(t, "OpenTenantKey", tk, err)
		})
	}
}

func TestRewrapTenantKey(t *testing.T) {
	ring, _ := newTestRing(t)
	svc := NewService(ring)
	tk, oldID, wrapped := wrapTenant(t, svc, "t1")
	sk, wrappedSubject := newTestSubject(t, tk, "s1")
	sealed := mustSeal(t, sk, "r1", "email", []byte("ada@example.org"))

	newID, err := ring.AddPrimary()
	if err != nil {
		t.Fatalf("AddPrimary: %v", err)
	}
	gotID, rewrapped, err := svc.RewrapTenantKey("t1", oldID, wrapped)
	if err != nil {
		t.Fatalf("RewrapTenantKey: %v", err)
	}
	if gotID != newID {
		t.Errorf("rewrapped under %s, want the new primary %s", gotID, newID)
	}
	if bytes.Equal(rewrapped, wrapped) {
		t.Error("rewrapped key equals the old wrapped key")
	}
	if _, err := ring.RetireOthers(time.Now()); err != nil {
		t.Fatalf("RetireOthers: %v", err)
	}

	moved := mustOpenTenant(t, svc, "t1", gotID, rewrapped)
	if got, want := moved.BlindIndex("email", "ada@example.org"), tk.BlindIndex("email", "ada@example.org"); !bytes.Equal(got, want) {
		t.Errorf("BlindIndex after rewrap = %x, want %x", got, want)
	}
	skAfter, err := moved.OpenSubjectKey("s1", wrappedSubject)
	if err != nil {
		t.Fatalf("OpenSubjectKey after rewrap: %v", err)
	}
	if pt, err := skAfter.Open("r1", "email", sealed); err != nil || string(pt) != "ada@example.org" {
		t.Errorf("Open after rewrap = %q, %v; want the value sealed before", pt, err)
	}
	// Retired, the old key still opens what a backup from before the rotation holds.
	mustOpenTenant(t, svc, "t1", oldID, wrapped)
	if err := ring.Remove([]string{oldID}); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	tk2, err := svc.OpenTenantKey("t1", oldID, wrapped)
	wantRefused(t, "OpenTenantKey under the removed key", tk2, err)
}

// TestRewrapTenantKeyPicksUpRotation is a running server rewrapping tenant keys after
// another process has added a primary key to the key file.
func TestRewrapTenantKeyPicksUpRotation(t *testing.T) {
	ringA, path := newTestRing(t)
	svcA := NewService(ringA)
	_, oldID, wrapped := wrapTenant(t, svcA, "t1")
	newID, err := openTestRing(t, path).AddPrimary()
	if err != nil {
		t.Fatalf("AddPrimary: %v", err)
	}
	gotID, rewrapped, err := svcA.RewrapTenantKey("t1", oldID, wrapped)
	if err != nil {
		t.Fatalf("RewrapTenantKey: %v", err)
	}
	if gotID != newID {
		t.Errorf("rewrapped under %s, want the current primary %s", gotID, newID)
	}
	mustOpenTenant(t, svcA, "t1", gotID, rewrapped)
}

func TestSubjectKeyRoundTrip(t *testing.T) {
	tk := newTestTenant(t, "t1")
	sk, wrapped := newTestSubject(t, tk, "s1")
	opened, err := tk.OpenSubjectKey("s1", wrapped)
	if err != nil {
		t.Fatalf("OpenSubjectKey: %v", err)
	}

	tests := []struct {
		name      string
		recordID  string
		field     string
		plaintext []byte
	}{
		{"profile", "", "email", []byte("ada@example.org")},
		{"record", "r1", "diagnosis", []byte("a long value with\nseveral lines\x00and a NUL")},
		{"empty value", "r1", "note", []byte{}},
		{"unicode", "r2", "name", []byte("Åsa Ødegård")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := mustSeal(t, sk, tt.recordID, tt.field, tt.plaintext)
			for _, k := range []skjold.SubjectKey{sk, opened} {
				pt, err := k.Open(tt.recordID, tt.field, sealed)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(pt, tt.plaintext) {
					t.Errorf("Open = %q, want %q", pt, tt.plaintext)
				}
			}
		})
	}
}

func TestOpenSubjectKeyRefused(t *testing.T) {
	tk := newTestTenant(t, "t1")
	_, wrapped := newTestSubject(t, tk, "s1")
	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 0x80
	// The same tenant key bound to another tenant id: only the associated data differs.
	orig := tk.(*tenantKey)
	sameKeyOtherTenant := &tenantKey{id: "t2", wrap: orig.wrap, indexKey: orig.indexKey}

	tests := []struct {
		name      string
		tk        skjold.TenantKey
		subjectID string
		wrapped   []byte
	}{
		{"wrong subject", tk, "s2", wrapped},
		{"other tenant key", newTestTenant(t, "t1"), "s1", wrapped},
		{"other tenant id", sameKeyOtherTenant, "s1", wrapped},
		{"flipped bit", tk, "s1", flipped},
		{"truncated", tk, "s1", wrapped[:len(wrapped)-1]},
		{"empty", tk, "s1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sk, err := tt.tk.OpenSubjectKey(tt.subjectID, tt.wrapped)
			wantRefused(t, "OpenSubjectKey", sk, err)
		})
	}
}

func TestOpenRefusesMovedValue(t *testing.T) {
	tk := newTestTenant(t, "t1")
	skAny, _ := newTestSubject(t, tk, "s1")
	sk := skAny.(*subjectKey)
	sealed := mustSeal(t, sk, "r1", "email", []byte("ada@example.org"))
	// The same data key bound to another subject or tenant: only the associated data differs.
	otherSubject := &subjectKey{tenantID: sk.tenantID, subjectID: "s2", aead: sk.aead}
	otherTenant := &subjectKey{tenantID: "t2", subjectID: sk.subjectID, aead: sk.aead}

	tests := []struct {
		name     string
		sk       skjold.SubjectKey
		recordID string
		field    string
	}{
		{"record differs", sk, "r2", "email"},
		{"record to profile", sk, "", "email"},
		{"field differs", sk, "r1", "phone"},
		{"record and field shifted", sk, "r1e", "mail"},
		{"subject differs", otherSubject, "r1", "email"},
		{"tenant differs", otherTenant, "r1", "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOpenRefused(t, tt.name, tt.sk, tt.recordID, tt.field, sealed)
		})
	}
	if _, err := sk.Open("r1", "email", sealed); err != nil {
		t.Errorf("Open in place: %v", err)
	}
}

func TestOpenRefusesDamagedValue(t *testing.T) {
	tk := newTestTenant(t, "t1")
	sk, _ := newTestSubject(t, tk, "s1")
	sealed := mustSeal(t, sk, "r1", "email", []byte("ada@example.org"))

	t.Run("flipped bit", func(t *testing.T) {
		for i := range sealed {
			for bit := range 8 {
				damaged := bytes.Clone(sealed)
				damaged[i] ^= 1 << bit
				if pt, err := sk.Open("r1", "email", damaged); err == nil || pt != nil || skjold.ErrorCode(err) != skjold.EINTERNAL {
					t.Errorf("byte %d bit %d flipped: Open = %q, %v; want an internal error", i, bit, pt, err)
				}
			}
		}
	})

	wrongVersion := bytes.Clone(sealed)
	wrongVersion[0] = version + 1
	tests := []struct {
		name   string
		sealed []byte
	}{
		{"truncated by one", sealed[:len(sealed)-1]},
		{"tag only", sealed[len(sealed)-16:]},
		{"header only", sealed[:13]},
		{"one byte", sealed[:1]},
		{"empty", []byte{}},
		{"nil", nil},
		{"wrong version", wrongVersion},
		{"extended", append(bytes.Clone(sealed), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOpenRefused(t, tt.name, sk, "r1", "email", tt.sealed)
		})
	}
}

func TestSealIsRandomised(t *testing.T) {
	sk, _ := newTestSubject(t, newTestTenant(t, "t1"), "s1")
	plaintext := []byte("ada@example.org")
	a := mustSeal(t, sk, "r1", "email", plaintext)
	b := mustSeal(t, sk, "r1", "email", plaintext)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal")
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Error("two seals reuse a nonce")
	}
}

func TestSealHidesPlaintext(t *testing.T) {
	sk, _ := newTestSubject(t, newTestTenant(t, "t1"), "s1")
	plaintext := []byte("ZZZZ-distinctive-plaintext-0123456789-ZZ")
	if len(plaintext) != 40 {
		t.Fatalf("test plaintext is %d bytes, want 40", len(plaintext))
	}
	sealed := mustSeal(t, sk, "r1", "note", plaintext)
	if len(sealed) != 1+12+len(plaintext)+16 {
		t.Errorf("sealed length = %d, want version+nonce+plaintext+tag = %d", len(sealed), 1+12+len(plaintext)+16)
	}
	// No 8-byte run of the plaintext may survive; by chance one would appear about once in 2^58 runs.
	for i := 0; i+8 <= len(plaintext); i++ {
		if bytes.Contains(sealed, plaintext[i:i+8]) {
			t.Fatalf("sealed value contains plaintext bytes %d..%d: %q", i, i+8, plaintext[i:i+8])
		}
	}
}

func TestBlindIndex(t *testing.T) {
	t1 := newTestTenant(t, "t1")
	t2 := newTestTenant(t, "t2")
	base := t1.BlindIndex("email", "ada@example.org")
	if len(base) != 32 {
		t.Fatalf("BlindIndex length = %d, want 32", len(base))
	}
	if again := t1.BlindIndex("email", "ada@example.org"); !bytes.Equal(again, base) {
		t.Error("BlindIndex is not deterministic")
	}

	tests := []struct {
		name       string
		tk         skjold.TenantKey
		kind       string
		normalised string
	}{
		{"other kind", t1, "phone", "ada@example.org"},
		{"other tenant", t2, "email", "ada@example.org"},
		{"other value", t1, "email", "bob@example.org"},
		{"kind and value shifted", t1, "emaila", "da@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.tk.BlindIndex(tt.kind, tt.normalised)
			if len(got) != 32 {
				t.Errorf("BlindIndex length = %d, want 32", len(got))
			}
			if bytes.Equal(got, base) {
				t.Errorf("BlindIndex(%q, %q) equals the base index", tt.kind, tt.normalised)
			}
		})
	}
}

// TestCryptoShredding checks that once a wrapped key is destroyed nothing sealed under it
// opens again, even with a fresh key made for the same subject or tenant.
func TestCryptoShredding(t *testing.T) {
	t.Run("subject key", func(t *testing.T) {
		tk := newTestTenant(t, "t1")
		sk, _ := newTestSubject(t, tk, "s1") // the wrapped form is discarded: shredded
		sealed := mustSeal(t, sk, "r1", "email", []byte("ada@example.org"))

		fresh, _ := newTestSubject(t, tk, "s1")
		wantOpenRefused(t, "fresh subject key", fresh, "r1", "email", sealed)
	})
	t.Run("tenant key", func(t *testing.T) {
		svc := newTestService(t)
		tk, _, _ := wrapTenant(t, svc, "t1") // the wrapped form is discarded: shredded
		_, wrappedSubject := newTestSubject(t, tk, "s1")

		fresh, _, _ := wrapTenant(t, svc, "t1")
		sk, err := fresh.OpenSubjectKey("s1", wrappedSubject)
		wantRefused(t, "OpenSubjectKey under a fresh tenant key", sk, err)
		if bytes.Equal(fresh.BlindIndex("email", "ada@example.org"), tk.BlindIndex("email", "ada@example.org")) {
			t.Error("a fresh tenant key gives the shredded tenant's blind indexes")
		}
	})
}

func TestSealSecretBindsLabelAndID(t *testing.T) {
	ring, err := CreateKeyring(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(ring)
	keyID, sealed, err := s.SealSecret("totp", "user-1", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed secret holds the plaintext")
	}
	got, err := s.OpenSecret("totp", "user-1", keyID, sealed)
	if err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	for _, c := range []struct{ label, id, keyID string }{
		{"totp", "user-2", keyID}, {"other", "user-1", keyID}, {"totp", "user-1", "unknown"},
	} {
		if _, err := s.OpenSecret(c.label, c.id, c.keyID, sealed); err == nil {
			t.Errorf("OpenSecret(%q, %q, %q) opened a secret sealed for another use", c.label, c.id, c.keyID)
		}
	}
}
