package skjold

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// E-mail addresses are normalised in one documented way, for storage, comparison and blind
// indexes alike:
//
//  1. Surrounding white space is trimmed.
//  2. A character that Unicode normalisation would turn into ASCII (the Kelvin sign K becomes
//     K, for instance) is a look-alike: a stored address must not hold one (it is refused), and
//     a lookup keeps it as it is, so it never finds the ASCII address.
//  3. The address is put in NFC.
//  4. Letters are folded to lower case one by one (simple case folding), except where a
//     non-ASCII letter would fold to an ASCII one (the dotted capital İ would become i): such a
//     letter is kept as it is, so "İ" and "i" stay distinct. Nothing folds to more than one
//     letter (ß stays ß).

// validEmail reports whether s (trimmed, NFC) is an address Skjold accepts: one '@'; a local
// part of 1–64 bytes made of dot-separated, non-empty atoms of letters, digits (any script) and
// !#$%&'*+-/=?^_`{|}~; a domain of at least two dot-separated labels of 1–63 bytes of letters,
// digits and '-', no label starting or ending with '-', the last not all digits; 254 bytes at
// most, and no look-alike character (see emailLookalike). Quoted local parts, comments and
// address literals are refused: nobody gives them as a customer's address.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || len(s) > 254 || !utf8.ValidString(s) || len(local) == 0 || len(local) > 64 || emailLookalike(s) {
		return false
	}
	for atom := range strings.SplitSeq(local, ".") {
		if atom == "" || strings.ContainsFunc(atom, func(r rune) bool { return !atomRune(r) }) {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || len(domain) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.ContainsFunc(l, func(r rune) bool { return r != '-' && !letterOrDigit(r) }) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return strings.ContainsFunc(tld, func(r rune) bool { return !('0' <= r && r <= '9') })
}

// atomRune reports whether r may stand in an atom of a local part (RFC 5322 atext, and RFC 6531's
// non-ASCII letters and digits).
func atomRune(r rune) bool {
	return letterOrDigit(r) || r < utf8.RuneSelf && strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

func letterOrDigit(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// emailLookalike reports whether s holds a non-ASCII character that NFC turns into ASCII, such
// as the Kelvin sign (U+212A), whose canonical form is the letter K.
func emailLookalike(s string) bool {
	return strings.ContainsFunc(s, lookalike)
}

func lookalike(r rune) bool {
	if r < utf8.RuneSelf {
		return false
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, b := range norm.NFC.Append(nil, buf[:n]...) {
		if b < utf8.RuneSelf {
			return true
		}
	}
	return false
}

// foldEmail returns s in NFC, with look-alike characters kept as they are, and letters folded
// as the normalisation above says.
func foldEmail(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexFunc(s, lookalike)
		if i < 0 {
			i = len(s)
		}
		b.WriteString(norm.NFC.String(s[:i]))
		if i < len(s) {
			_, n := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+n])
			i += n
		}
		s = s[i:]
	}
	return strings.Map(foldRune, b.String())
}

// foldRune is the simple lower-case fold of r, unless that would take a non-ASCII letter to
// ASCII.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if l := unicode.ToLower(r); l >= utf8.RuneSelf {
		return l
	}
	return r
}
