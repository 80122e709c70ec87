// Package keys implements Skjold's envelope key hierarchy: master keys kept in a key file
// outside the database, tenant keys wrapped under the master key, subject data keys wrapped
// under a key derived from the tenant key, and AES-256-GCM sealing of personal values.
package keys

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// KeySize is the size of every key in the hierarchy: 256 bits.
const KeySize = 32

const fileHeader = "# Skjold master keyring: the first key is primary; a key ending in retired=TIME only unwraps\n" +
	"# (older backups need it). Keep this file secret and back it up apart from the database.\n"

// Keyring holds the master keys read from the key file. The first key in the file is the
// primary one, used for every new wrap; the others only unwrap. A rotation retires the old
// keys rather than deleting them [E3, E4]: a retired key (marked with the time it was
// retired) is kept for the backups made before the rotation, whose tenant keys it wraps,
// until "skjold keys prune" finds that no kept backup needs it. It re-reads the file when it
// has changed, so that a running server picks up a rotation.
type Keyring struct {
	path string

	mu      sync.RWMutex
	keys    map[string][]byte
	retired map[string]time.Time // id → when a rotation retired it
	primary string
	stamp   fileStamp
}

// KeyInfo describes one master key of the ring; it holds no key material.
type KeyInfo struct {
	ID      string
	Primary bool      // new wraps use it
	Retired time.Time // when a rotation retired it; zero for a key not retired
}

// State is "primary", "retired" or "unwrap-only" (a key of a rotation not yet finished).
func (i KeyInfo) State() string {
	switch {
	case i.Primary:
		return "primary"
	case !i.Retired.IsZero():
		return "retired"
	}
	return "unwrap-only"
}

type fileStamp struct {
	ino, size, mtime int64
}

// CreateKeyring writes a new key file with one fresh master key at path (mode 0600). It
// fails if the file exists: a key file is never overwritten.
func CreateKeyring(path string) (*Keyring, error) {
	k := &Keyring{path: path, keys: map[string][]byte{}, retired: map[string]time.Time{}}
	key := make([]byte, KeySize)
	rand.Read(key)
	id := keyID(key)
	k.keys[id], k.primary = key, id
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.Write(k.encode()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return k, k.refresh(true)
}

// OpenKeyring reads the key file at path. It refuses a file that others than its owner can
// read or write, as ssh does with private keys.
func OpenKeyring(path string) (*Keyring, error) {
	k := &Keyring{path: path}
	if err := k.refresh(true); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the key file's path.
func (k *Keyring) Path() string { return k.path }

// PrimaryKeyID returns the id of the primary master key.
func (k *Keyring) PrimaryKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// KeyIDs returns the ids of every master key in the ring, primary first, then the others
// sorted.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.sortedIDs()
}

func (k *Keyring) sortedIDs() []string {
	var others []string
	for id := range k.keys {
		if id != k.primary {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	return append([]string{k.primary}, others...)
}

// Keys describes every master key in the ring, primary first.
func (k *Keyring) Keys() []KeyInfo {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []KeyInfo
	for _, id := range k.sortedIDs() {
		out = append(out, KeyInfo{ID: id, Primary: id == k.primary, Retired: k.retired[id]})
	}
	return out
}

// HasKey reports whether the key file holds master key id: it re-reads the file if it
// changed, so that a key pruned by another process counts as gone.
func (k *Keyring) HasKey(id string) bool {
	if err := k.refresh(false); err != nil {
		return false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.keys[id]
	return ok
}

// Refresh re-reads the key file if it changed since it was last read.
func (k *Keyring) Refresh() error { return k.refresh(false) }

func (k *Keyring) refresh(force bool) error {
	fi, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("master key file %s is accessible by group or others (mode %v); run chmod 600 on it", k.path, fi.Mode().Perm())
	}
	st := stampOf(fi)
	k.mu.RLock()
	same := st == k.stamp
	k.mu.RUnlock()
	if same && !force {
		return nil
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("read master key file: %w", err)
	}
	keys, retired, primary, err := decode(data)
	if err != nil {
		return fmt.Errorf("master key file %s: %w", k.path, err)
	}
	k.mu.Lock()
	k.keys, k.retired, k.primary, k.stamp = keys, retired, primary, st
	k.mu.Unlock()
	return nil
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = int64(sys.Ino)
	}
	return st
}

// key returns the master key with the given id, re-reading the file once if it is unknown.
func (k *Keyring) key(id string) ([]byte, error) {
	k.mu.RLock()
	key, ok := k.keys[id]
	k.mu.RUnlock()
	if ok {
		return key, nil
	}
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if key, ok := k.keys[id]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("master key %s is not in %s", id, k.path)
}

// AddPrimary adds a fresh master key as the new primary and rewrites the key file
// atomically, keeping the old keys so that tenant keys wrapped under them still open.
func (k *Keyring) AddPrimary() (string, error) {
	// Start from the file, not from memory: another process may have rotated since the
	// last read, and its keys must not be dropped.
	if err := k.refresh(false); err != nil {
		return "", err
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	id := keyID(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := map[string][]byte{id: key}
	for oid, okey := range k.keys {
		keys[oid] = okey
	}
	return id, k.write(keys, maps.Clone(k.retired), id)
}

// RetireOthers marks every key but the primary retired at now (a key retired before keeps
// its time), atomically. Retired keys stay in the file, for unwrapping only: backups made
// before the rotation hold tenant keys wrapped under them. Call it only once no stored
// tenant key is wrapped under another key; Remove drops a retired key for good. It returns
// the ids it retired now.
func (k *Keyring) RetireOthers(now time.Time) ([]string, error) {
	// A stale ring would keep its old primary and drop the file's real one.
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	retired := maps.Clone(k.retired)
	var ids []string
	for _, id := range k.sortedIDs()[1:] {
		if retired[id].IsZero() {
			retired[id] = now.UTC().Truncate(time.Second)
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, k.write(maps.Clone(k.keys), retired, k.primary)
}

// Remove deletes retired keys from the key file, atomically. It refuses the primary key, a
// key not retired and an unknown id, and then removes none. Whoever calls it has checked
// that nothing still needs the keys: no stored tenant key and no kept backup.
func (k *Keyring) Remove(ids []string) error {
	if err := k.refresh(false); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, retired := maps.Clone(k.keys), maps.Clone(k.retired)
	for _, id := range ids {
		switch {
		case keys[id] == nil:
			return fmt.Errorf("master key %s is not in %s", id, k.path)
		case retired[id].IsZero():
			return fmt.Errorf("master key %s is not retired: only retired keys are removed", id)
		}
		delete(keys, id)
		delete(retired, id)
	}
	return k.write(keys, retired, k.primary)
}

// write replaces the key file with keys (primary first) through a synced temporary file and
// a rename, so that a crash leaves either the old file or the new one, never a torn one.
func (k *Keyring) write(keys map[string][]byte, retired map[string]time.Time, primary string) error {
	next := &Keyring{keys: keys, retired: retired, primary: primary}
	tmp, err := os.CreateTemp(filepath.Dir(k.path), ".master-key-*")
	if err != nil {
		return fmt.Errorf("write master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(next.encode()); err != nil {
		tmp.Close()
		return fmt.Errorf("write master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return fmt.Errorf("replace master key file: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(k.path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	k.keys, k.retired, k.primary = keys, retired, primary
	fi, err := os.Stat(k.path)
	if err == nil {
		k.stamp = stampOf(fi)
	}
	return err
}

// encode writes the key file text: a header, then "id base64" per line, primary first,
// a retired key's line ending in " retired=RFC3339".
func (k *Keyring) encode() []byte {
	var b bytes.Buffer
	b.WriteString(fileHeader)
	for _, id := range k.sortedIDs() {
		fmt.Fprintf(&b, "%s %s", id, base64.StdEncoding.EncodeToString(k.keys[id]))
		if at := k.retired[id]; !at.IsZero() && id != k.primary {
			fmt.Fprintf(&b, " retired=%s", at.UTC().Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func decode(data []byte) (map[string][]byte, map[string]time.Time, string, error) {
	keys, retired := map[string][]byte{}, map[string]time.Time{}
	primary := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || len(fields) > 3 {
			return nil, nil, "", fmt.Errorf("line %d is not a valid key line", n)
		}
		id := fields[0]
		key, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil || len(key) != KeySize || keyID(key) != id {
			return nil, nil, "", fmt.Errorf("line %d is not a valid key line", n)
		}
		if len(fields) == 3 {
			stamp, ok := strings.CutPrefix(fields[2], "retired=")
			at, err := time.Parse(time.RFC3339, stamp)
			if !ok || err != nil || primary == "" {
				return nil, nil, "", fmt.Errorf("line %d: a key after the first may end in retired=TIME (RFC 3339), nothing else", n)
			}
			retired[id] = at
		}
		if primary == "" {
			primary = id
		}
		keys[id] = key
	}
	if primary == "" {
		return nil, nil, "", errors.New("no key found")
	}
	return keys, retired, primary, nil
}

// keyID names a master key by a fingerprint that reveals nothing useful about it.
func keyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("skjold master key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}
