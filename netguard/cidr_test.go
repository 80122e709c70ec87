package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/skjold-project/skjold"
)

// listCase is one input to ParseList: want holds the expected prefixes in order, or badLine
// the line whose number the error must give.
type listCase struct {
	name    string
	in      string
	want    []string
	badLine int
}

func listCases() []listCase {
	return []listCase{
		{name: "empty", in: ""},
		{name: "blank lines", in: "\n\n  \t\n"},
		{name: "comments only", in: "# block list\n   # indented\n#\n"},
		{name: "v4 CIDR", in: "10.0.0.0/8\n", want: []string{"10.0.0.0/8"}},
		{name: "no final newline", in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{name: "v6 CIDR", in: "2001:db8::/32", want: []string{"2001:db8::/32"}},
		{name: "bare v4", in: "192.0.2.7", want: []string{"192.0.2.7/32"}},
		{name: "bare v6", in: "2001:db8::7", want: []string{"2001:db8::7/128"}},
		{name: "masked v4", in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{name: "masked v6", in: "2001:db8:1:2::5/48", want: []string{"2001:db8:1::/48"}},
		{name: "zero prefixes", in: "0.0.0.0/0\n::/0", want: []string{"0.0.0.0/0", "::/0"}},
		{name: "mapped bare", in: "::ffff:10.1.2.3", want: []string{"10.1.2.3/32"}},
		{name: "mapped CIDR", in: "::ffff:10.1.2.3/104", want: []string{"10.0.0.0/8"}},
		{name: "mapped /96", in: "::ffff:0.0.0.0/96", want: []string{"0.0.0.0/0"}},
		{name: "wider than mapped", in: "::ffff:0:0/95", want: []string{"::fffe:0:0/95"}},
		{name: "trailing comment", in: "10.0.0.0/8 # office\n10.0.0.1#x", want: []string{"10.0.0.0/8", "10.0.0.1/32"}},
		{name: "CRLF", in: "# list\r\n10.0.0.0/8\r\n\r\n2001:db8::1\r\n", want: []string{"10.0.0.0/8", "2001:db8::1/128"}},
		{name: "CRLF after comment", in: "10.0.0.0/8 #x\r\n", want: []string{"10.0.0.0/8"}},
		{name: "spaces and tabs", in: " \t10.0.0.0/8 \t\n", want: []string{"10.0.0.0/8"}},
		{name: "duplicates dropped", in: "10.0.0.0/8\n10.9.9.9/8\n10.0.0.1\n10.0.0.0/8", want: []string{"10.0.0.0/8", "10.0.0.1/32"}},
		{name: "order kept", in: "2001:db8::/32\n10.0.0.0/8", want: []string{"2001:db8::/32", "10.0.0.0/8"}},

		{name: "word", in: "10.0.0.0/8\nhello\n", badLine: 2},
		{name: "v4 bits too large", in: "# x\n\n10.0.0.0/33", badLine: 3},
		{name: "v6 bits too large", in: "2001:db8::/129", badLine: 1},
		{name: "negative bits", in: "10.0.0.0/-1", badLine: 1},
		{name: "missing bits", in: "10.0.0.0/", badLine: 1},
		{name: "missing address", in: "/8", badLine: 1},
		{name: "two entries", in: "10.0.0.0/8 10.0.0.1", badLine: 1},
		{name: "comma list", in: "10.0.0.1,10.0.0.2", badLine: 1},
		{name: "leading zeros", in: "010.0.0.1", badLine: 1},
		{name: "short v4", in: "10.0.0", badLine: 1},
		{name: "zone", in: "fe80::1%eth0", badLine: 1},
		{name: "zone in CIDR", in: "fe80::1%eth0/64", badLine: 1},
		{name: "range syntax", in: "10.0.0.1-10.0.0.9", badLine: 1},
		{name: "hostname", in: "localhost", badLine: 1},
		{name: "NUL", in: "10.0.0.1\x00", badLine: 1},
		{name: "CR inside", in: "10.0.0.1\r10.0.0.2", badLine: 1},
		{name: "line too long", in: "10.0.0.1\n" + strings.Repeat(" ", MaxLineLen+1), badLine: 2},
		{name: "line far too long", in: "10.0.0.1\n\n" + strings.Repeat("#", 10*MaxLineLen) + "\n1.2.3.4", badLine: 3},
		{name: "longest line", in: strings.Repeat(" ", MaxLineLen-len("10.0.0.1")) + "10.0.0.1\r\n", want: []string{"10.0.0.1/32"}},
		{name: "longest comment", in: "#" + strings.Repeat("x", MaxLineLen-1), want: nil},
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range listCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseList(strings.NewReader(tc.in))
			if tc.badLine != 0 {
				if got != nil {
					t.Errorf("ParseList = %v, want nil with the error", got)
				}
				wantLineError(t, err, tc.badLine)
				return
			}
			if err != nil {
				t.Fatalf("ParseList: %v", err)
			}
			if s := prefixStrings(got); !slices.Equal(s, tc.want) {
				t.Errorf("ParseList = %q, want %q", s, tc.want)
			}
		})
	}
}

// wantLineError fails unless err is an EINVALID *skjold.Error on the field "cidr" that names
// line n and nothing of the line's content.
func wantLineError(t *testing.T, err error, n int) {
	t.Helper()
	var e *skjold.Error
	if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != "cidr" || e.Rule != "cidr" {
		t.Fatalf("error = %#v, want an EINVALID cidr field error", err)
	}
	want := []string{
		fmt.Sprintf("line %d is not an address or CIDR range", n),
		fmt.Sprintf("line %d is longer than %d bytes", n, MaxLineLen),
	}
	if !slices.Contains(want, e.Message) {
		t.Errorf("message = %q, want one of %q", e.Message, want)
	}
}

func TestParseListLineLimit(t *testing.T) {
	full := strings.Repeat("# comment\n", MaxListLines-1) + "10.0.0.1\n"
	got, err := ParseList(strings.NewReader(full))
	if err != nil || len(got) != 1 {
		t.Fatalf("ParseList(%d lines) = %v, %v; want one prefix", MaxListLines, got, err)
	}
	got, err = ParseList(strings.NewReader(full + "\n"))
	var e *skjold.Error
	if got != nil || !errors.As(err, &e) || e.Field != "cidr" || !strings.Contains(e.Message, "more than 100000 lines") {
		t.Errorf("ParseList(%d lines) = %v, %#v; want a too-many-lines error", MaxListLines+1, got, err)
	}
}

func TestParseListReadError(t *testing.T) {
	cause := errors.New("connection reset")
	_, err := ParseList(iotest.ErrReader(cause))
	if !errors.Is(err, cause) || skjold.ErrorCode(err) != skjold.EINTERNAL {
		t.Errorf("ParseList(failing reader) = %v, want the wrapped cause", err)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{" 10.1.2.3/8\t", "10.0.0.0/8"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::/0", "::/0"},
		{"", ""},
		{"   ", ""},
		{"10.0.0.0/8 # office", ""},
		{"10.0.0.0/8\n10.0.0.1", ""},
		{"fe80::1%eth0", ""},
		{"10.0.0.0/33", ""},
		{"300.0.0.1", ""},
		{"example.com", ""},
		{strings.Repeat(" ", MaxLineLen) + "10.0.0.1", ""},
	}
	for _, tc := range tests {
		got, err := ParsePrefix(tc.in)
		if tc.want == "" {
			var e *skjold.Error
			if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != "cidr" || e.Message != "not an address or CIDR range" {
				t.Errorf("ParsePrefix(%q) = %v, %#v; want a cidr field error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatList(t *testing.T) {
	list := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		{},
		netip.MustParsePrefix("2001:db8::1/128"),
	}
	got := FormatList(list)
	if want := "10.0.0.0/8\n2001:db8::1/128\n"; got != want {
		t.Errorf("FormatList = %q, want %q", got, want)
	}
	if got := FormatList(nil); got != "" {
		t.Errorf("FormatList(nil) = %q, want empty", got)
	}
}

func FuzzParseList(f *testing.F) {
	for _, tc := range listCases() {
		if len(tc.in) < 2*MaxLineLen {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		list, err := ParseList(strings.NewReader(in))
		if err != nil {
			if skjold.ErrorCode(err) != skjold.EINVALID {
				t.Fatalf("ParseList error %v is not EINVALID", err)
			}
			return
		}
		for _, p := range list {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("ParseList gave the unnormalised prefix %v", p)
			}
		}
		again, err := ParseList(strings.NewReader(FormatList(list)))
		if err != nil || !slices.Equal(again, list) {
			t.Fatalf("reparsed %v, %v; want %v", again, err, list)
		}
	})
}

func FuzzParsePrefix(f *testing.F) {
	for _, tc := range listCases() {
		if len(tc.in) < 2*MaxLineLen {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePrefix(in)
		if err != nil {
			if skjold.ErrorCode(err) != skjold.EINVALID {
				t.Fatalf("ParsePrefix error %v is not EINVALID", err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
			t.Fatalf("ParsePrefix gave the unnormalised prefix %v", p)
		}
		if again, err := ParsePrefix(p.String()); err != nil || again != p {
			t.Fatalf("reparsed %v, %v; want %v", again, err, p)
		}
		list, err := ParseList(strings.NewReader(in))
		if err != nil || len(list) != 1 || list[0] != p {
			t.Fatalf("ParseList of the same input = %v, %v; want [%v]", list, err, p)
		}
	})
}

func prefixStrings(list []netip.Prefix) []string {
	var s []string
	for _, p := range list {
		s = append(s, p.String())
	}
	return s
}
