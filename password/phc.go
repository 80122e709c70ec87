package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on parameters, for NewHasher and for stored hashes: a tampered database row must
// not make a login allocate unbounded memory or run for minutes.
const (
	maxMemory     = 4 << 20 // KiB: 4 GiB
	maxTime       = 100
	minStoredSalt = 8 // PHC's minimum
	maxSaltLen    = 1024
	minKeyLen     = 16
	maxKeyLen     = 1024
	maxEncodedLen = 4096 // comfortably above the longest string within the limits above
)

// b64 is PHC's base64: standard alphabet, no padding, no stray bits.
var b64 = base64.RawStdEncoding.Strict()

// hash is a decoded argon2id hash; SaltLen and KeyLen are the lengths of salt and key.
type hash struct {
	Params
	salt, key []byte
}

// String returns h as a PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$key.
func (h hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.Memory, h.Time, h.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// weakerThan reports whether h costs an attacker less than hashing with p would.
func (h hash) weakerThan(p Params) bool {
	return h.Memory < p.Memory || h.Time < p.Time || h.SaltLen < p.SaltLen || h.KeyLen < p.KeyLen
}

// parse decodes a PHC string strictly: exactly the form String writes (so parse and String
// round-trip), version 19 only, parameters within the limits. Its errors never repeat s.
func parse(s string) (hash, error) {
	if len(s) > maxEncodedLen {
		return hash{}, errors.New("encoded hash too long")
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return hash{}, errors.New("not an argon2id PHC string")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return hash{}, errors.New("unsupported argon2 version")
	}
	p, err := parseParams(f[3])
	if err != nil {
		return hash{}, err
	}
	salt, err1 := decodeB64(f[4])
	key, err2 := decodeB64(f[5])
	if err := errors.Join(err1, err2); err != nil {
		return hash{}, err
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return hash{}, err
	}
	return hash{Params: p, salt: salt, key: key}, nil
}

// parseParams decodes "m=…,t=…,p=…" in that order.
func parseParams(s string) (Params, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return Params{}, errors.New("parameters are not m=…,t=…,p=…")
	}
	m, err1 := parseNumber(f[0], "m=", maxMemory)
	t, err2 := parseNumber(f[1], "t=", maxTime)
	p, err3 := parseNumber(f[2], "p=", 255)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Params{}, err
	}
	return Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}, nil
}

// parseNumber decodes key followed by a decimal number without sign or leading zeros, and
// refuses numbers over limit.
func parseNumber(s, key string, limit uint64) (uint64, error) {
	digits, ok := strings.CutPrefix(s, key)
	if !ok || digits == "" || len(digits) > 10 || strings.Trim(digits, "0123456789") != "" ||
		(digits[0] == '0' && len(digits) > 1) {
		return 0, fmt.Errorf("parameter %q malformed", key)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > limit {
		return 0, fmt.Errorf("parameter %q over %d", key, limit)
	}
	return n, nil
}

// decodeB64 decodes PHC base64, refusing the line breaks that encoding/base64 would skip.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("malformed base64")
	}
	return b, nil
}

// check returns an error when p is outside the limits or outside what argon2 accepts.
func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return errors.New("argon2id needs at least one thread")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time must be between 1 and %d", maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory must be between 8×threads and %d KiB", maxMemory)
	case p.SaltLen < minStoredSalt || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length must be between %d and %d bytes", minStoredSalt, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length must be between %d and %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}
