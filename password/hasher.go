// Package password hashes passwords with argon2id [B3], checks new passwords against a
// password policy [B2] and, when the policy asks for it, against a k-anonymity range API of
// breached passwords.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/skjold-project/skjold"
)

// Params are argon2id's cost parameters (RFC 9106).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane, with a 16-byte
// salt and a 32-byte key. NewHasher refuses anything weaker. Treat it as read-only.
var DefaultParams = Params{Memory: owaspMemory, Time: owaspTime, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	owaspMemory = 19456 // KiB
	owaspTime   = 2
	minSaltLen  = 16 // for new hashes; stored ones may have down to 8 bytes (PHC's minimum)

	// maxWait bounds how long Hash and Verify wait for a free slot when the context allows
	// longer: a login flood is refused quickly rather than queued.
	maxWait = 2 * time.Second
)

// Hasher hashes and verifies passwords with argon2id. It implements skjold.PasswordHasher
// and is safe for concurrent use. At most maxConcurrent hashes run at once, so that a flood
// of logins cannot exhaust memory (each hash holds Params.Memory KiB while it runs).
type Hasher struct {
	params Params
	sem    chan struct{}
	wait   time.Duration
	dummy  hash // verified against for unknown accounts, so that they cost the same

	// perSource bounds the checks one source holds or waits for; 0 for no bound.
	perSource int
	source    func(context.Context) string
	mu        sync.Mutex
	inFlight  map[string]int // source → checks running or waiting
}

var _ skjold.PasswordHasher = (*Hasher)(nil)

// NewHasher returns a Hasher that hashes with p. It refuses parameters below OWASP's
// minimum (DefaultParams), a salt under 16 bytes, a key under 16 bytes, and parameters above
// the limits that stored hashes must respect. maxConcurrent bounds the hashes running at
// once; 0 means twice GOMAXPROCS.
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if p.Memory < owaspMemory || p.Time < owaspTime {
		return nil, fmt.Errorf("password: argon2id parameters m=%d KiB, t=%d are below the OWASP minimum m=%d KiB, t=%d",
			p.Memory, p.Time, owaspMemory, owaspTime)
	}
	if p.SaltLen < minSaltLen {
		return nil, fmt.Errorf("password: salt length %d is below %d bytes", p.SaltLen, minSaltLen)
	}
	return newHasher(p, maxConcurrent)
}

// NewTestHasher returns a Hasher with deliberately cheap parameters (64 KiB, one pass),
// FOR TESTS ONLY: its hashes offer almost no protection against guessing. Other packages'
// tests use it to hash and verify quickly; production code calls NewHasher. A real Hasher
// verifies its hashes and asks for a rehash.
func NewTestHasher() *Hasher {
	h, err := newHasher(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	if err != nil {
		panic(err) // the parameters above are within the limits
	}
	return h
}

func newHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	if maxConcurrent < 0 {
		return nil, fmt.Errorf("password: maxConcurrent %d is negative", maxConcurrent)
	} else if maxConcurrent == 0 {
		maxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	return &Hasher{
		params: p,
		sem:    make(chan struct{}, maxConcurrent),
		wait:   maxWait,
		dummy:  hash{Params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)},
	}, nil
}

// LimitPerSource bounds the password checks that one source may have running or waiting at
// once to n, so that one client flooding logins cannot take every slot and starve everyone
// else [B11]: a check beyond the bound is refused at once with EUNAVAILABLE. source names the
// source of a request from its context ("" for none, which is not bounded); the caller
// decides what a source is (an IPv4 address, an IPv6 /64). n must be at least 1 and at most
// the Hasher's slots. Call it before the Hasher is used.
func (h *Hasher) LimitPerSource(n int, source func(context.Context) string) error {
	if n < 1 || n > cap(h.sem) {
		return fmt.Errorf("password: checks per source %d must be within 1…%d (the checks at once)", n, cap(h.sem))
	}
	h.perSource, h.source, h.inFlight = n, source, make(map[string]int)
	return nil
}

// Slots returns how many hashes the Hasher runs at once.
func (h *Hasher) Slots() int { return cap(h.sem) }

// Hash returns password's argon2id hash as a PHC string with a fresh random salt.
// Errors: EINVALID (field "password", rule "length") for a password over
// skjold.MaxPasswordLength characters; EUNAVAILABLE when no slot frees up in time.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := checkMaxLength(password); err != nil {
		return "", err
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.derive(ctx, password, h.params, salt)
	if err != nil {
		return "", err
	}
	return hash{Params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether password matches the PHC string encoded, and, only when it does,
// whether encoded should be replaced by a fresh Hash because its memory, time, salt or key
// length is below the Hasher's (only argon2 version 19 exists in Go, so the version never
// differs). With encoded == "" it does the same work against a fixed dummy hash and returns
// false, false, nil. Errors: EINVALID for a password over skjold.MaxPasswordLength,
// EUNAVAILABLE when no slot frees up in time, an internal error (code EINTERNAL) for a
// malformed or absurd encoded, checked before any work is done.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if err := checkMaxLength(password); err != nil {
		return false, false, err
	}
	stored := h.dummy
	if encoded != "" {
		if stored, err = parse(encoded); err != nil {
			return false, false, fmt.Errorf("password: stored hash: %w", err)
		}
	}
	key, err := h.derive(ctx, password, stored.Params, stored.salt)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(key, stored.key) == 1 && encoded != ""
	return ok, ok && stored.weakerThan(h.params), nil
}

// derive runs argon2id once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, p Params, salt []byte) ([]byte, error) {
	release, err := h.claimSource(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// claimSource counts a check against its source's bound, or refuses it when the source
// already has perSource checks running or waiting. The returned function ends the claim.
func (h *Hasher) claimSource(ctx context.Context) (func(), error) {
	if h.perSource == 0 {
		return func() {}, nil
	}
	src := h.source(ctx)
	if src == "" {
		return func() {}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight[src] >= h.perSource {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "too many password checks from your network at once; try again")
	}
	h.inFlight[src]++
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.inFlight[src]--; h.inFlight[src] <= 0 {
			delete(h.inFlight, src) // the map holds only sources with checks under way
		}
	}, nil
}

// acquire takes a slot, waiting until ctx ends or h.wait passes, whichever comes first.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return skjold.Errorf(skjold.EUNAVAILABLE, "too many password checks at once; try again")
	}
}

// checkMaxLength refuses passwords too long to hash cheaply, counted in characters as the
// policy counts them.
func checkMaxLength(password string) error {
	if utf8.RuneCountInString(password) > skjold.MaxPasswordLength {
		return skjold.FieldError("password", "length", "password must be at most %d characters", skjold.MaxPasswordLength)
	}
	return nil
}
