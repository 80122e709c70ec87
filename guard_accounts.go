package skjold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ibanLengths is the length of an IBAN per ISO 13616 country code, as listed in the SWIFT
// IBAN registry.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
	"QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// findIBAN reports whether s (as guardText returns it) holds an IBAN: at a word boundary, two
// letters naming a country of ibanLengths (either case), two digits, then letters and digits
// up to the country's length, where a single space or '-' may stand between two of them (the
// printed groups of four), ending at a word boundary, and passing the mod-97 check. Each
// candidate is read at most once to its bounded length, so the search is linear.
func findIBAN(s string) bool {
	var buf [34]byte
	for i := 0; i+4 <= len(s); i++ {
		if !isASCIILetter(s[i]) || !isASCIILetter(s[i+1]) || !isASCIIDigit(s[i+2]) || !isASCIIDigit(s[i+3]) {
			continue
		}
		if before, _ := utf8.DecodeLastRuneInString(s[:i]); isWordRune(before) {
			continue
		}
		n, ok := ibanLengths[strings.ToUpper(s[i:i+2])]
		if !ok {
			continue
		}
		if end, got := scanIBAN(s, i, buf[:n]); got == n {
			if after, _ := utf8.DecodeRuneInString(s[end:]); !isWordRune(after) && ibanChecks(buf[:n]) {
				return true
			}
		}
	}
	return false
}

// scanIBAN copies up to len(buf) letters and digits of s from i into buf, upper-cased, over
// single separators, and returns the index past the last one copied and how many it copied.
func scanIBAN(s string, i int, buf []byte) (end, n int) {
	for n < len(buf) && i < len(s) {
		c := s[i]
		if (c == ' ' || c == '-') && n > 0 && i+1 < len(s) && isASCIIAlnum(s[i+1]) {
			i++
			c = s[i]
		}
		if !isASCIIAlnum(c) {
			break
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
		i++
	}
	return i, n
}

// ibanChecks reports whether iban (upper-case letters and digits) passes the ISO 13616 check:
// moved its first four characters to the end, with letters as 10–35, it is 1 modulo 97.
func ibanChecks(iban []byte) bool {
	rem := 0
	for k := range len(iban) {
		c := iban[(k+4)%len(iban)]
		if isASCIIDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return rem == 1
}

// passwordLabels are the words that introduce a credential, in English, Norwegian and Polish
// (lower case, Polish also without its diacritic).
var passwordLabels = []string{"password", "passwd", "passphrase", "passcode", "pwd", "passord", "passordet",
	"hasło", "haslo", "pin", "pin-kode", "pinkode", "kod pin"}

// findPassword reports whether s (as guardText returns it) writes out a credential after its
// label: a word of passwordLabels (any case, at a word boundary) followed by ':' or '=' (with
// spaces around them, or none) and then at least four characters that are not spaces. "reset
// my password" and "password changed" pass; "password: hunter22", "Passord=Sommer2024" and
// "PIN: 4711" do not. Other ways of writing a password out cannot be told from text.
func findPassword(s string) bool {
	lower := strings.ToLower(s)
	for i := 0; i < len(lower); i++ {
		if i > 0 {
			if before, _ := utf8.DecodeLastRuneInString(lower[:i]); isWordRune(before) {
				continue
			}
		}
		for _, label := range passwordLabels {
			if strings.HasPrefix(lower[i:], label) && labelledSecret(lower[i+len(label):]) {
				return true
			}
		}
	}
	return false
}

// labelledSecret reports whether rest, the text after a label, is ':' or '=' (spaces around
// allowed) and then four or more characters that are not spaces.
func labelledSecret(rest string) bool {
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || (rest[0] != ':' && rest[0] != '=') {
		return false
	}
	rest = strings.TrimLeft(rest[1:], " ")
	n := 0
	for _, r := range rest {
		if unicode.IsSpace(r) {
			break
		}
		if n++; n >= 4 {
			return true
		}
	}
	return false
}

func isASCIILetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func isASCIIAlnum(b byte) bool { return isASCIILetter(b) || isASCIIDigit(b) }
