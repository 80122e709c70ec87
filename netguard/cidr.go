package netguard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/skjold-project/skjold"
)

// Limits on a block or allow list read by ParseList.
const (
	MaxListLines = 100_000 // lines in one list, comments and blank lines included
	MaxLineLen   = 1024    // bytes in one line, its comment and line ending excluded
)

// ParseList reads a block or allow list: one entry per line, each a CIDR range ("10.0.0.0/8",
// "2001:db8::/32") or a bare address, which stands for its /32 (IPv4) or /128 (IPv6).
//
// A '#' starts a comment that runs to the end of the line; blank lines and surrounding spaces
// are ignored, and CRLF line endings are accepted. Each entry is normalised as ParsePrefix
// does. Duplicates are dropped; the others keep their order.
//
// An invalid, over-long (MaxLineLen) or surplus (MaxListLines) line is reported as an EINVALID
// *skjold.Error for the field "cidr" whose message gives the line number but never the
// line's content. An error from r is returned wrapped.
func ParseList(r io.Reader) ([]netip.Prefix, error) {
	sc := bufio.NewScanner(r)
	// Room for the longest allowed line plus its CRLF, and no more: the scanner's limit is the
	// larger of the buffer's capacity and its max, and a longer line ends in ErrTooLong.
	sc.Buffer(make([]byte, 0, MaxLineLen+2), MaxLineLen+2)

	var list []netip.Prefix
	seen := make(map[netip.Prefix]struct{})
	n := 0
	for sc.Scan() {
		n++
		if n > MaxListLines {
			return nil, skjold.FieldError("cidr", "cidr", "the list has more than %d lines", MaxListLines)
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if len(line) > MaxLineLen {
			return nil, lineTooLong(n)
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		p, ok := parseEntry(line)
		if !ok {
			return nil, skjold.FieldError("cidr", "cidr", "line %d is not an address or CIDR range", n)
		}
		if _, dup := seen[p]; !dup {
			seen[p] = struct{}{}
			list = append(list, p)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, lineTooLong(n + 1)
	} else if err != nil {
		return nil, fmt.Errorf("netguard: read list: %w", err)
	}
	return list, nil
}

func lineTooLong(n int) error {
	return skjold.FieldError("cidr", "cidr", "line %d is longer than %d bytes", n, MaxLineLen)
}

// FormatList returns the prefixes one per line, in order, each in canonical CIDR form and
// ending in a newline, so that ParseList reads them back. Invalid prefixes are left out.
func FormatList(list []netip.Prefix) string {
	var b strings.Builder
	for _, p := range list {
		if !p.IsValid() {
			continue
		}
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ParsePrefix parses one CIDR range or bare address from API input, with ParseList's rules
// but no comment: surrounding spaces are ignored, a bare address stands for its /32 or /128,
// host bits are cleared ("10.1.2.3/8" is 10.0.0.0/8), an IPv4-mapped IPv6 range
// ("::ffff:10.0.0.0/104") becomes the IPv4 range it maps (10.0.0.0/8), and addresses with a
// zone are refused. Anything else is an EINVALID *skjold.Error for the field "cidr" that does
// not echo s.
func ParsePrefix(s string) (netip.Prefix, error) {
	if len(s) <= MaxLineLen {
		if p, ok := parseEntry(s); ok {
			return p, nil
		}
	}
	return netip.Prefix{}, skjold.FieldError("cidr", "cidr", "not an address or CIDR range")
}

// parseEntry parses one list entry, comment already removed, and normalises it.
func parseEntry(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normalize(p)
}

// normalize clears p's host bits and turns a range inside the IPv4-mapped space ::ffff:0:0/96
// into the IPv4 range it maps. It reports false for an invalid prefix or one with a zone.
func normalize(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, true
}
