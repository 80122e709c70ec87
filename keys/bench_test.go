package keys

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/skjold-project/skjold"
)

// benchFields are the sealed fields of a typical record: six values of about 20 bytes.
var benchFields = []struct{ name, value string }{
	{"name", "Ada Lovelace Byron"},
	{"email", "ada@analytical.example"},
	{"phone", "+44 20 7946 0958 000"},
	{"street", "12 St James's Square"},
	{"city", "London SW1Y 4JH, UK"},
	{"reference", "CASE-2026-000012345"},
}

// newBenchService returns a key service over a fresh key file.
func newBenchService(b *testing.B) *Service {
	b.Helper()
	ring, err := CreateKeyring(filepath.Join(b.TempDir(), "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	return NewService(ring)
}

// newBenchTenant returns an open tenant key, as the server keeps in its cache.
func newBenchTenant(b *testing.B) skjold.TenantKey {
	b.Helper()
	tk, _, _, err := newBenchService(b).NewTenantKey("tenant-0001")
	if err != nil {
		b.Fatal(err)
	}
	return tk
}

// BenchmarkReadRecord is the crypto cost of reading one record with a cached tenant key:
// unwrap the subject's data key, then open each sealed field.
func BenchmarkReadRecord(b *testing.B) {
	tk := newBenchTenant(b)
	sk, wrapped, err := tk.NewSubjectKey("subject-0001")
	if err != nil {
		b.Fatal(err)
	}
	sealed := make([][]byte, len(benchFields))
	for i, f := range benchFields {
		if sealed[i], err = sk.Seal("record-0001", f.name, []byte(f.value)); err != nil {
			b.Fatal(err)
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		sk, err := tk.OpenSubjectKey("subject-0001", wrapped)
		if err != nil {
			b.Fatal(err)
		}
		for i, f := range benchFields {
			if _, err := sk.Open("record-0001", f.name, sealed[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSealRecord is the crypto cost of writing one record for a new subject: make and
// wrap a data key, then seal each field.
func BenchmarkSealRecord(b *testing.B) {
	tk := newBenchTenant(b)
	values := make([][]byte, len(benchFields))
	for i, f := range benchFields {
		values[i] = []byte(f.value)
	}

	b.ReportAllocs()
	for b.Loop() {
		sk, _, err := tk.NewSubjectKey("subject-0001")
		if err != nil {
			b.Fatal(err)
		}
		for i, f := range benchFields {
			if _, err := sk.Seal("record-0001", f.name, values[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	tk := newBenchTenant(b)
	b.ReportAllocs()
	for b.Loop() {
		tk.BlindIndex("email", "ada@analytical.example")
	}
}

// BenchmarkOpenTenantKey is the cost of a tenant-key cache miss.
func BenchmarkOpenTenantKey(b *testing.B) {
	svc := newBenchService(b)
	_, masterID, wrapped, err := svc.NewTenantKey("tenant-0001")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.OpenTenantKey("tenant-0001", masterID, wrapped); err != nil {
			b.Fatal(err)
		}
	}
}

// Keep the field table honest: the benchmark claims values of about 20 bytes.
func init() {
	for _, f := range benchFields {
		if n := len(f.value); n < 18 || n > 22 {
			panic(fmt.Sprintf("bench field %s is %d bytes, want about 20", f.name, n))
		}
	}
}
