package totp

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestWellFormed(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"000000", true},
		{"123456", true},
		{"999999", true},
		{"12345", false},
		{"1234567", false},
		{"abcdef", false},
		{"12345a", false},
		{"/12345", false}, // the byte before '0'
		{"12345:", false}, // the byte after '9'
		{"+12345", false},
		{" 12345", false},
		{"", false},
		{"１２３４５６", false},
	}
	for _, tt := range tests {
		if got := wellFormed(tt.code); got != tt.want {
			t.Errorf("wellFormed(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	tests := []struct{ a, want int64 }{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {-1, -1}, {-30, -1}, {-31, -2},
	}
	for _, tt := range tests {
		if got := floorDiv(tt.a, 30); got != tt.want {
			t.Errorf("floorDiv(%d, 30) = %d, want %d", tt.a, got, tt.want)
		}
	}
}

// TestRecoveryCodesSkipDuplicates feeds the same random bytes twice: the second code must
// be dropped, not returned again.
func TestRecoveryCodesSkipDuplicates(t *testing.T) {
	same := bytes.Repeat([]byte{0}, recoveryLen)
	other := bytes.Repeat([]byte{1}, recoveryLen)
	r := bytes.NewReader(bytes.Join([][]byte{same, same, other}, nil))
	codes, hashes, err := recoveryCodes(r, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"00000-00000", "11111-11111"}; len(codes) != 2 || codes[0] != want[0] || codes[1] != want[1] {
		t.Errorf("codes = %q, want %q", codes, want)
	}
	if len(hashes) != 2 || bytes.Equal(hashes[0], hashes[1]) {
		t.Errorf("hashes = %x, want two distinct", hashes)
	}
}

func TestRecoveryCodesRandomFailure(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"error", iotest.ErrReader(errors.New("no entropy"))},
		{"short", bytes.NewReader(make([]byte, recoveryLen+3))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if codes, _, err := recoveryCodes(tt.r, 2); err == nil {
				t.Errorf("recoveryCodes = %q, want an error", codes)
			}
		})
	}
}

// TestRecoveryCodesReadFully reads the randomness one byte at a time: each code must still
// take ten bytes, one character each, in alphabet order.
func TestRecoveryCodesReadFully(t *testing.T) {
	var b []byte
	for i := range 2 * recoveryLen {
		b = append(b, byte(i))
	}
	codes, _, err := recoveryCodes(iotest.OneByteReader(bytes.NewReader(b)), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"01234-56789", "abcde-fghjk"}; len(codes) != 2 || codes[0] != want[0] || codes[1] != want[1] {
		t.Errorf("codes = %q, want %q", codes, want)
	}
}
