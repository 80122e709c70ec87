package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// newTestRing creates a key file in a fresh temporary directory.
func newTestRing(t *testing.T) (*Keyring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	ring, err := CreateKeyring(path)
	if err != nil {
		t.Fatalf("CreateKeyring: %v", err)
	}
	return ring, path
}

// openTestRing opens a second Keyring on an existing key file, as another process would.
func openTestRing(t *testing.T, path string) *Keyring {
	t.Helper()
	ring, err := OpenKeyring(path)
	if err != nil {
		t.Fatalf("OpenKeyring: %v", err)
	}
	return ring
}

// wrapTenant makes a tenant key under svc's primary master key and returns it with its
// stored form.
func wrapTenant(t *testing.T, svc *Service, tenantID string) (skjold.TenantKey, string, []byte) {
	t.Helper()
	tk, masterID, wrapped, err := svc.NewTenantKey(tenantID)
	if err != nil {
		t.Fatalf("NewTenantKey(%q): %v", tenantID, err)
	}
	return tk, masterID, wrapped
}

// mustOpenTenant opens a stored tenant key and fails the test if it does not open.
func mustOpenTenant(t *testing.T, svc *Service, tenantID, masterID string, wrapped []byte) skjold.TenantKey {
	t.Helper()
	tk, err := svc.OpenTenantKey(tenantID, masterID, wrapped)
	if err != nil {
		t.Fatalf("OpenTenantKey(%q, %s): %v", tenantID, masterID, err)
	}
	return tk
}

func TestCreateKeyring(t *testing.T) {
	ring, path := newTestRing(t)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	if got := ring.KeyIDs(); len(got) != 1 || got[0] != ring.PrimaryKeyID() {
		t.Errorf("KeyIDs() = %v, want only the primary %s", got, ring.PrimaryKeyID())
	}
	if ring.Path() != path {
		t.Errorf("Path() = %q, want %q", ring.Path(), path)
	}

	again := openTestRing(t, path)
	if again.PrimaryKeyID() != ring.PrimaryKeyID() {
		t.Errorf("reopened primary = %s, want %s", again.PrimaryKeyID(), ring.PrimaryKeyID())
	}
}

func TestCreateKeyringRefusesExistingFile(t *testing.T) {
	t.Run("key file", func(t *testing.T) {
		ring, path := newTestRing(t)
		if _, err := CreateKeyring(path); err == nil {
			t.Fatal("CreateKeyring over an existing key file succeeded")
		}
		if got := openTestRing(t, path).PrimaryKeyID(); got != ring.PrimaryKeyID() {
			t.Errorf("primary after refused create = %s, want %s", got, ring.PrimaryKeyID())
		}
	})
	t.Run("other file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, []byte("not mine\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := CreateKeyring(path); err == nil {
			t.Fatal("CreateKeyring over an existing file succeeded")
		}
		if data, _ := os.ReadFile(path); string(data) != "not mine\n" {
			t.Errorf("existing file was changed to %q", data)
		}
	})
}

func TestOpenKeyringRefusesLooseMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o666} {
		t.Run(mode.String(), func(t *testing.T) {
			_, path := newTestRing(t)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyring(path)
			if err == nil {
				t.Fatalf("OpenKeyring accepted a key file with mode %v", mode)
			}
			if !strings.Contains(err.Error(), "chmod") {
				t.Errorf("error %q does not tell how to fix it (chmod)", err)
			}
		})
	}
}

func TestOpenKeyringRefusesBadFile(t *testing.T) {
	good := make([]byte, KeySize)
	rand.Read(good)
	other := make([]byte, KeySize)
	rand.Read(other)
	short := make([]byte, KeySize/2)
	rand.Read(short)
	line := func(id string, key []byte) string {
		return id + " " + base64.StdEncoding.EncodeToString(key) + "\n"
	}

	tests := []struct {
		name     string
		content  string
		wantLine string // "" when no line is at fault
		secrets  [][]byte
	}{
		{"garbage", fileHeader + "this is not a key\n", "line 3", nil},
		{"id only", fileHeader + keyID(good) + "\n", "line 3", nil},
		{"bad base64", fileHeader + keyID(good) + " %%%not-base64%%%\n", "line 3", nil},
		{"wrong id", fileHeader + line(keyID(other), good), "line 3", [][]byte{good}},
		{"short key", fileHeader + line(keyID(short), short), "line 3", [][]byte{short}},
		{"bad second key", fileHeader + line(keyID(good), good) + line(keyID(good), other), "line 4", [][]byte{good, other}},
		{"empty", "", "", nil},
		{"header only", fileHeader, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyring(path)
			if err == nil {
				t.Fatal("OpenKeyring accepted a bad key file")
			}
			msg := err.Error()
			if tt.wantLine != "" && !strings.Contains(msg, tt.wantLine) {
				t.Errorf("error %q does not name %s", msg, tt.wantLine)
			}
			for _, key := range tt.secrets {
				for _, enc := range []string{base64.StdEncoding.EncodeToString(key), hex.EncodeToString(key)} {
					if strings.Contains(msg, enc) {
						t.Errorf("error %q prints key material", msg)
					}
				}
			}
		})
	}
}

func TestKeyringAddPrimary(t *testing.T) {
	ring, path := newTestRing(t)
	svc := NewService(ring)
	oldID := ring.PrimaryKeyID()
	before, masterID, wrapped := wrapTenant(t, svc, "t1")

	newID, err := ring.AddPrimary()
	if err != nil {
		t.Fatalf("AddPrimary: %v", err)
	}
	if newID == oldID {
		t.Fatal("AddPrimary returned the old key id")
	}
	if got, want := ring.KeyIDs(), []string{newID, oldID}; !slices.Equal(got, want) {
		t.Errorf("KeyIDs() = %v, want %v (new primary first)", got, want)
	}
	if got, want := openTestRing(t, path).KeyIDs(), []string{newID, oldID}; !slices.Equal(got, want) {
		t.Errorf("KeyIDs() of reopened file = %v, want %v", got, want)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after rotation = %v, want 0600", fi.Mode().Perm())
	}

	after := mustOpenTenant(t, svc, "t1", masterID, wrapped)
	if !bytes.Equal(after.BlindIndex("email", "a@example.org"), before.BlindIndex("email", "a@example.org")) {
		t.Error("the tenant key wrapped before rotation opened to a different key")
	}
	if _, id, _ := wrapTenant(t, svc, "t2"); id != newID {
		t.Errorf("new tenant key wrapped under %s, want the new primary %s", id, newID)
	}
}

// TestKeyringRetireOthers: a rotation retires the old key instead of deleting it [E3, E4]:
// the key file keeps it, with the time it was retired, for unwrapping only; Remove then
// deletes it, and refuses the primary and keys not retired.
func TestKeyringRetireOthers(t *testing.T) {
	ring, path := newTestRing(t)
	svc := NewService(ring)
	oldID := ring.PrimaryKeyID()
	_, _, wrapped := wrapTenant(t, svc, "t1")

	newID, err := ring.AddPrimary()
	if err != nil {
		t.Fatalf("AddPrimary: %v", err)
	}
	if err := ring.Remove([]string{oldID}); err == nil {
		t.Error("Remove of a key not retired succeeded")
	}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	ids, err := ring.RetireOthers(at)
	if err != nil || !slices.Equal(ids, []string{oldID}) {
		t.Fatalf("RetireOthers = %v, %v; want [%s]", ids, err, oldID)
	}
	want := []KeyInfo{{ID: newID, Primary: true}, {ID: oldID, Retired: at}}
	for _, r := range []*Keyring{ring, openTestRing(t, path)} {
		if got := r.Keys(); !slices.Equal(got, want) {
			t.Errorf("Keys() = %+v, want %+v", got, want)
		}
	}
	if got := (KeyInfo{ID: oldID, Retired: at}).State(); got != "retired" {
		t.Errorf("State() = %q, want retired", got)
	}
	mustOpenTenant(t, svc, "t1", oldID, wrapped) // unwraps still
	if _, id, _ := wrapTenant(t, svc, "t2"); id != newID {
		t.Errorf("a new wrap used %s, want the primary %s, never a retired key", id, newID)
	}
	if again, err := ring.RetireOthers(at.Add(time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("RetireOthers again = %v, %v; want nothing newly retired", again, err)
	}
	if err := ring.Remove([]string{newID}); err == nil {
		t.Error("Remove of the primary key succeeded")
	}
	if err := ring.Remove([]string{oldID}); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := openTestRing(t, path).KeyIDs(); !slices.Equal(got, []string{newID}) {
		t.Errorf("KeyIDs() of reopened file = %v, want only %s", got, newID)
	}
	tk, err := svc.OpenTenantKey("t1", oldID, wrapped)
	if err == nil || tk != nil {
		t.Fatalf("OpenTenantKey under a removed key = %v, %v; want an error", tk, err)
	}
	if code := skjold.ErrorCode(err); code != skjold.EINTERNAL {
		t.Errorf("error code = %q, want %q", code, skjold.EINTERNAL)
	}
}

// TestKeyringRotationSeenByOtherRing is a running server (ring A) and a rotation done by
// another process (ring B) on the same key file.
func TestKeyringRotationSeenByOtherRing(t *testing.T) {
	ringA, path := newTestRing(t)
	svcA := NewService(ringA)
	oldID := ringA.PrimaryKeyID()
	beforeA, oldMaster, oldWrapped := wrapTenant(t, svcA, "t1")

	ringB := openTestRing(t, path)
	svcB := NewService(ringB)
	newID, err := ringB.AddPrimary()
	if err != nil {
		t.Fatalf("AddPrimary: %v", err)
	}
	beforeB, newMaster, newWrapped := wrapTenant(t, svcB, "t2")
	if newMaster != newID {
		t.Fatalf("ring B wrapped under %s, want its new primary %s", newMaster, newID)
	}
	if got := ringA.PrimaryKeyID(); got != oldID {
		t.Fatalf("ring A saw the rotation before any read: primary %s", got)
	}

	// A has not refreshed: the unknown key id makes it re-read the file.
	afterB := mustOpenTenant(t, svcA, "t2", newMaster, newWrapped)
	if !bytes.Equal(afterB.BlindIndex("ref", "42"), beforeB.BlindIndex("ref", "42")) {
		t.Error("ring A opened ring B's tenant key to a different key")
	}
	if err := ringA.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := ringA.PrimaryKeyID(); got != newID {
		t.Errorf("ring A primary after Refresh = %s, want %s", got, newID)
	}
	if got := svcA.PrimaryKeyID(); got != newID {
		t.Errorf("service A primary = %s, want %s", got, newID)
	}
	afterA := mustOpenTenant(t, svcA, "t1", oldMaster, oldWrapped)
	if !bytes.Equal(afterA.BlindIndex("ref", "42"), beforeA.BlindIndex("ref", "42")) {
		t.Error("ring A no longer opens its own tenant key after the rotation")
	}
}

// TestKeyringRotationFromStaleRing checks that a ring that has not seen another process's
// rotation does not drop the keys that rotation added when it rotates in turn.
func TestKeyringRotationFromStaleRing(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(*Keyring) error
	}{
		{"AddPrimary", func(k *Keyring) error { _, err := k.AddPrimary(); return err }},
		{"RetireOthers", func(k *Keyring) error { _, err := k.RetireOthers(time.Now()); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ringA, path := newTestRing(t)
			ringB := openTestRing(t, path)
			newID, err := ringB.AddPrimary()
			if err != nil {
				t.Fatalf("AddPrimary: %v", err)
			}
			_, masterID, wrapped := wrapTenant(t, NewService(ringB), "t1")

			if err := tt.rotate(ringA); err != nil {
				t.Fatalf("%s on ring A: %v", tt.name, err)
			}
			if !slices.Contains(ringA.KeyIDs(), newID) {
				t.Errorf("ring A dropped key %s added by ring B: %v", newID, ringA.KeyIDs())
			}
			mustOpenTenant(t, NewService(openTestRing(t, path)), "t1", masterID, wrapped)
		})
	}
}
