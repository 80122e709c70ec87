// Package backup makes, checks and restores Skjold's encrypted backups [E1–E4, D4]: a
// consistent snapshot of the database (store.Snapshot), compressed with zstd and encrypted
// with age to the configured recipients, copied to every target with its manifest and a copy
// of the erasure journal; and the way back, which checks the checksum before decrypting,
// loads the snapshot into a new database, migrates it forward, erases again what the journal
// says was erased after the backup, and verifies the audit chain.
package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// maxManifest bounds how much of a manifest object is read: it is small, and a target is not
// trusted to bound it.
const maxManifest = 1 << 20

// idPattern is the shape of a backup id: the UTC time it was taken, then 8 random hex digits.
var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)

// NewID returns a backup id for a snapshot taken at t: "20261123T140000Z-1a2b3c4d". Ids sort
// by time as strings; the random part tells apart backups of the same second (two nodes).
func NewID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the shape NewID gives.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// List returns the complete backups on t, newest first: those whose manifest is present and
// readable (a backup file without its manifest never counts). A manifest that cannot be read
// or does not match its name is skipped, not trusted.
func List(ctx context.Context, t skjold.Target) ([]*skjold.Manifest, error) {
	names, err := t.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.Name(), err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var out []*skjold.Manifest
	for i := len(names) - 1; i >= 0; i-- { // names are sorted, and ids sort by time
		id, ok := strings.CutSuffix(names[i], skjold.ManifestFile(""))
		if !ok || !ValidID(id) || !have[skjold.BackupFile(id)] {
			continue
		}
		m, err := readManifest(ctx, t, id)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// readManifest reads and checks backup id's manifest on t.
func readManifest(ctx context.Context, t skjold.Target, id string) (*skjold.Manifest, error) {
	rc, err := t.Get(ctx, skjold.ManifestFile(id))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m skjold.Manifest
	if err := json.NewDecoder(io.LimitReader(rc, maxManifest)).Decode(&m); err != nil {
		return nil, fmt.Errorf("the manifest of backup %s on %s is unreadable: %w", id, t.Name(), err)
	}
	if m.ID != id || len(m.SHA256) != 64 || m.Size <= 0 {
		return nil, fmt.Errorf("the manifest of backup %s on %s does not describe it", id, t.Name())
	}
	return &m, nil
}

// find returns backup id's manifest on t, or the newest backup's when id is "".
func find(ctx context.Context, t skjold.Target, id string) (*skjold.Manifest, error) {
	if id != "" {
		if !ValidID(id) {
			return nil, skjold.Errorf(skjold.EINVALID, "%q is not a backup id (such as 20261123T140000Z-1a2b3c4d)", id)
		}
		m, err := readManifest(ctx, t, id)
		if skjold.ErrorCode(err) == skjold.ENOTFOUND {
			return nil, skjold.Errorf(skjold.ENOTFOUND, "%s holds no backup %s", t.Name(), id)
		}
		return m, err
	}
	ms, err := List(ctx, t)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "%s holds no backup", t.Name())
	}
	return ms[0], nil
}
