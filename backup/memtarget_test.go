package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/skjold-project/skjold"
)

// memTarget is a test-only in-memory Target. failPuts/failGets/failLists make that many
// next calls fail, to exercise retries and partial failures.
type memTarget struct {
	name string

	mu                            sync.Mutex
	objs                          map[string][]byte
	failPuts, failGets, failLists int
	puts, gets, lists             int
	// failErr, when set, is what the failing calls return instead of errDown.
	failErr error
	// rot makes the target store a damaged copy of each backup file while reporting the
	// checksum of what it was sent, as a disk that rots silently would. Manifests, the
	// journal and the checkpoints are left alone: whether a flipped byte in the middle of a
	// small JSON file keeps it parseable depends on where the middle falls, which would tie
	// the tests to the exact sizes of those files.
	rot bool
}

func newMem(name string) *memTarget { return &memTarget{name: name, objs: map[string][]byte{}} }

var errDown = errors.New("target unreachable")

// fail is the error a failing call returns.
func (m *memTarget) fail() error {
	if m.failErr != nil {
		return m.failErr
	}
	return errDown
}

func (m *memTarget) Name() string { return m.name }

func (m *memTarget) Put(ctx context.Context, name string, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.failPuts > 0 {
		m.failPuts--
		return "", m.fail()
	}
	sum := sha256.Sum256(b)
	if m.rot && len(b) > 0 && strings.HasSuffix(name, skjold.BackupFile("")) {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0x40
	}
	m.objs[name] = b
	return hex.EncodeToString(sum[:]), nil
}

func (m *memTarget) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if m.failGets > 0 {
		m.failGets--
		return nil, m.fail()
	}
	b, ok := m.objs[name]
	if !ok {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "no object %s", name)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memTarget) List(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists++
	if m.failLists > 0 {
		m.failLists--
		return nil, m.fail()
	}
	var names []string
	for n := range m.objs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memTarget) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	return nil
}

func (m *memTarget) names() []string {
	n, _ := m.List(context.Background())
	m.mu.Lock()
	m.lists--
	m.mu.Unlock()
	return slices.Clone(n)
}
