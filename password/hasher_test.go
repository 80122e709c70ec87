package password

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// cheap are parameters fast enough for tests; only newHasher accepts them.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newCheapHasher(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := newHasher(p, maxConcurrent)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := skjold.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestHashVerify(t *testing.T) {
	h := NewTestHasher()
	ctx := context.Background()
	for _, password := range []string{
		"",
		"correct horse battery staple",
		"Ünïcödé pässwörd 日本語 🙂",
		strings.Repeat("é", skjold.MaxPasswordLength),
	} {
		encoded, err := h.Hash(ctx, password)
		if err != nil {
			t.Fatalf("Hash(%.20q): %v", password, err)
		}
		if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("Hash(%.20q) = %q: not the PHC form", password, encoded)
		}
		if ok, rehash, err := h.Verify(ctx, encoded, password); !ok || rehash || err != nil {
			t.Errorf("Verify(right password %.20q) = %v, %v, %v; want true, false, nil", password, ok, rehash, err)
		}
		if ok, rehash, err := h.Verify(ctx, encoded, "not the password"); ok || rehash || err != nil {
			t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
		}
	}
}

func TestHashSalted(t *testing.T) {
	h := NewTestHasher()
	a, errA := h.Hash(context.Background(), "same password")
	b, errB := h.Hash(context.Background(), "same password")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
}

func TestPasswordTooLong(t *testing.T) {
	h := NewTestHasher()
	long := strings.Repeat("é", skjold.MaxPasswordLength+1)
	encoded, err := h.Hash(context.Background(), "short")
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Hash(context.Background(), long)
	wantFieldError(t, err, "length")
	_, _, err = h.Verify(context.Background(), encoded, long)
	wantFieldError(t, err, "length")
}

func TestVerifyRehash(t *testing.T) {
	tests := []struct {
		name    string
		current Params
		want    bool
	}{
		{"same", cheap, false},
		{"more memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more time", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"longer key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
		{"longer salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
		{"other threads", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, false},
		{"weaker", Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, false},
	}
	encoded, err := newCheapHasher(t, cheap, 0).Hash(context.Background(), "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newCheapHasher(t, tt.current, 0)
			ok, rehash, err := h.Verify(context.Background(), encoded, "pass phrase")
			if !ok || rehash != tt.want || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			if _, rehash, _ := h.Verify(context.Background(), encoded, "wrong"); rehash {
				t.Errorf("Verify(wrong password) asks for a rehash")
			}
		})
	}
}

// A test hasher's hashes verify under DefaultParams, which asks to rehash them.
func TestDefaultVerifiesTestHash(t *testing.T) {
	encoded, err := NewTestHasher().Hash(context.Background(), "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHasher(DefaultParams, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify(context.Background(), encoded, "pass phrase"); !ok || !rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerifyUnknownAccount(t *testing.T) {
	h := newCheapHasher(t, cheap, 1)
	for _, password := range []string{"", "anything"} {
		if ok, rehash, err := h.Verify(context.Background(), "", password); ok || rehash || err != nil {
			t.Errorf("Verify(\"\", %q) = %v, %v, %v; want false, false, nil", password, ok, rehash, err)
		}
	}
	// The dummy verification takes a slot like a real one: it does the same work.
	h.sem <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := h.Verify(ctx, "", "anything")
	wantCode(t, err, skjold.EUNAVAILABLE)
}

func TestVerifyMalformed(t *testing.T) {
	h := NewTestHasher()
	valid, err := h.Hash(context.Background(), "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	for _, encoded := range malformed(valid) {
		ok, rehash, err := h.Verify(context.Background(), encoded, "pass phrase")
		if ok || rehash || err == nil {
			t.Errorf("Verify(%.60q) = %v, %v, %v; want an error", encoded, ok, rehash, err)
			continue
		}
		wantCode(t, err, skjold.EINTERNAL)
	}
}

// malformed returns variants of the valid PHC string that parse must refuse.
func malformed(valid string) []string {
	f := strings.Split(valid, "$")
	salt, key := f[4], f[5]
	zeros := func(n int) string { return b64.EncodeToString(make([]byte, n)) }
	return []string{
		"x",
		"$",
		"$$$$$",
		strings.TrimPrefix(valid, "$"),
		valid + "$",
		valid + "\n",
		" " + valid,
		strings.Replace(valid, "argon2id", "argon2i", 1),
		strings.Replace(valid, "argon2id", "ARGON2ID", 1),
		strings.Replace(valid, "v=19", "v=16", 1),
		strings.Replace(valid, "v=19", "v=019", 1),
		strings.Replace(valid, "v=19$", "", 1),
		strings.Replace(valid, "m=64", "m=064", 1),
		strings.Replace(valid, "m=64", "m=+64", 1),
		strings.Replace(valid, "m=64", "m=-64", 1),
		strings.Replace(valid, "m=64", "m= 64", 1),
		strings.Replace(valid, "m=64", "m=", 1),
		strings.Replace(valid, "m=64", "m=4194305", 1),     // over 4 GiB
		strings.Replace(valid, "m=64", "m=99999999999", 1), // over uint32
		strings.Replace(valid, "m=64", "m=7", 1),           // under 8×threads
		strings.Replace(valid, "t=1", "t=0", 1),
		strings.Replace(valid, "t=1", "t=101", 1),
		strings.Replace(valid, "p=1", "p=0", 1),
		strings.Replace(valid, "p=1", "p=256", 1),
		strings.Replace(valid, "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		strings.Replace(valid, "m=64,t=1,p=1", "m=64,t=1", 1),
		strings.Replace(valid, "m=64,t=1,p=1", "m=64,t=1,p=1,k=2", 1),
		strings.Replace(valid, salt, salt+"=", 1),
		strings.Replace(valid, salt, salt[:10]+"\n"+salt[10:], 1),
		strings.Replace(valid, salt, salt[:len(salt)-1]+"!", 1),
		strings.Replace(valid, salt, zeros(7), 1),    // salt too short
		strings.Replace(valid, salt, zeros(1025), 1), // salt too long
		strings.Replace(valid, salt, "", 1),
		strings.Replace(valid, key, zeros(15), 1),            // key too short
		strings.Replace(valid, key, zeros(1025), 1),          // key too long
		strings.Replace(valid, key, key[:len(key)-1]+"B", 1), // stray bits
		strings.Replace(valid, key, "", 1),
		strings.Repeat("$argon2id", 1000),
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, p := range []Params{cheap, DefaultParams, {Memory: maxMemory, Time: maxTime, Threads: 255, SaltLen: maxSaltLen, KeyLen: maxKeyLen}} {
		want := hash{Params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}
		want.salt[0], want.key[len(want.key)-1] = 0xff, 0x01
		got, err := parse(want.String())
		if err != nil {
			t.Fatalf("parse(%+v): %v", p, err)
		}
		if got.String() != want.String() || got.Params != p {
			t.Errorf("parse(%q) = %q, %+v", want.String(), got.String(), got.Params)
		}
	}
}

func FuzzParse(f *testing.F) {
	valid, err := NewTestHasher().Hash(context.Background(), "pass phrase")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, s := range malformed(valid) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parse(s)
		if err != nil {
			return
		}
		if err := h.Params.check(); err != nil {
			t.Errorf("parse(%q) accepted %+v: %v", s, h.Params, err)
		}
		if h.String() != s {
			t.Errorf("parse(%q) accepted a non-canonical form of %q", s, h.String())
		}
	})
}

func TestNewHasher(t *testing.T) {
	with := func(change func(*Params)) Params {
		p := DefaultParams
		change(&p)
		return p
	}
	tests := []struct {
		name          string
		params        Params
		maxConcurrent int
		ok            bool
	}{
		{"default", DefaultParams, 0, true},
		{"stronger", with(func(p *Params) { p.Memory, p.Time, p.Threads = 65536, 3, 4 }), 8, true},
		{"memory below OWASP", with(func(p *Params) { p.Memory = 19455 }), 0, false},
		{"time below OWASP", with(func(p *Params) { p.Time = 1 }), 0, false},
		{"cheap", cheap, 0, false},
		{"no threads", with(func(p *Params) { p.Threads = 0 }), 0, false},
		{"short salt", with(func(p *Params) { p.SaltLen = 8 }), 0, false},
		{"short key", with(func(p *Params) { p.KeyLen = 8 }), 0, false},
		{"huge key", with(func(p *Params) { p.KeyLen = maxKeyLen + 1 }), 0, false},
		{"huge memory", with(func(p *Params) { p.Memory = maxMemory + 1 }), 0, false},
		{"huge time", with(func(p *Params) { p.Time = maxTime + 1 }), 0, false},
		{"negative concurrency", DefaultParams, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHasher(tt.params, tt.maxConcurrent)
			if (err == nil) != tt.ok {
				t.Fatalf("NewHasher(%+v, %d) error = %v, want ok %v", tt.params, tt.maxConcurrent, err, tt.ok)
			}
			if h != nil && tt.maxConcurrent == 0 && cap(h.sem) != 2*runtime.GOMAXPROCS(0) {
				t.Errorf("default concurrency %d, want 2×GOMAXPROCS", cap(h.sem))
			}
		})
	}
}

// A full Hasher refuses work with EUNAVAILABLE once the context ends or its own bound
// passes, and works again when a slot frees up.
func TestHasherFull(t *testing.T) {
	h := newCheapHasher(t, cheap, 1)
	encoded, err := h.Hash(context.Background(), "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // a hash that never finishes

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = h.Hash(ctx, "pass phrase")
	wantCode(t, err, skjold.EUNAVAILABLE)
	_, _, err = h.Verify(ctx, encoded, "pass phrase")
	wantCode(t, err, skjold.EUNAVAILABLE)

	h.wait = time.Millisecond // a context without deadline waits only this long
	_, err = h.Hash(context.Background(), "pass phrase")
	wantCode(t, err, skjold.EUNAVAILABLE)

	<-h.sem
	if _, err := h.Hash(ctx, "pass phrase"); err != nil {
		t.Errorf("Hash with a free slot: %v", err)
	}
}

// Concurrent callers beyond the bound wait their turn rather than fail.
func TestHasherConcurrent(t *testing.T) {
	h := newCheapHasher(t, cheap, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			encoded, err := h.Hash(context.Background(), "pass phrase")
			if err == nil {
				_, _, err = h.Verify(context.Background(), encoded, "pass phrase")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(h.sem) != 0 {
		t.Errorf("%d slots still taken", len(h.sem))
	}
}

func BenchmarkHash(b *testing.B) {
	h, err := NewHasher(DefaultParams, 0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(DefaultParams, 0)
	if err != nil {
		b.Fatal(err)
	}
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(context.Background(), encoded, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

type sourceKey struct{}

func fromSource(src string) context.Context {
	return context.WithValue(context.Background(), sourceKey{}, src)
}

// TestHasherPerSource: a source with its bound of checks under way is refused at once, while
// other sources, and requests with no source, still get a slot.
func TestHasherPerSource(t *testing.T) {
	h := newCheapHasher(t, cheap, 2)
	source := func(ctx context.Context) string { s, _ := ctx.Value(sourceKey{}).(string); return s }
	for _, n := range []int{0, -1, 3} {
		if err := h.LimitPerSource(n, source); err == nil {
			t.Errorf("LimitPerSource(%d) with 2 slots: no error", n)
		}
	}
	if err := h.LimitPerSource(1, source); err != nil {
		t.Fatal(err)
	}
	encoded, err := h.Hash(context.Background(), "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	release, err := h.claimSource(fromSource("198.51.100.7")) // a check of this source under way
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Verify(fromSource("198.51.100.7"), encoded, "pass phrase")
	wantCode(t, err, skjold.EUNAVAILABLE)
	_, err = h.Hash(fromSource("198.51.100.7"), "pass phrase")
	wantCode(t, err, skjold.EUNAVAILABLE)
	for _, ctx := range []context.Context{fromSource("198.51.100.8"), context.Background()} {
		if ok, _, err := h.Verify(ctx, encoded, "pass phrase"); !ok || err != nil {
			t.Errorf("another source: Verify = %v, %v", ok, err)
		}
	}
	release()
	if ok, _, err := h.Verify(fromSource("198.51.100.7"), encoded, "pass phrase"); !ok || err != nil {
		t.Errorf("after the check ended: Verify = %v, %v", ok, err)
	}
	if len(h.inFlight) != 0 || len(h.sem) != 0 {
		t.Errorf("%d sources and %d slots still held", len(h.inFlight), len(h.sem))
	}
}

// TestHasherPerSourceFlood: while one source floods, every check of another source gets a
// slot: the flood holds at most its bound, and its surplus is refused rather than queued.
func TestHasherPerSourceFlood(t *testing.T) {
	h := newCheapHasher(t, cheap, 2)
	h.wait = time.Millisecond // a check that has to queue behind the flood fails
	source := func(ctx context.Context) string { s, _ := ctx.Value(sourceKey{}).(string); return s }
	if err := h.LimitPerSource(1, source); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var flood sync.WaitGroup
	for range 40 {
		flood.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					h.Verify(fromSource("2001:db8:1:2::/64"), "", "guess")
				}
			}
		})
	}
	for i := range 50 {
		if _, _, err := h.Verify(fromSource("192.0.2.1"), "", "pass phrase"); err != nil {
			t.Errorf("check %d of another source during the flood: %v", i+1, err)
		}
	}
	close(stop)
	flood.Wait()
}
