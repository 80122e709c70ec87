package skjold

import (
	"iter"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Sensitive kinds the input guard refuses unless a field allows them.
const (
	KindCardNumber    = "card_number"
	KindPESEL         = "pesel"
	KindFodselsnummer = "fodselsnummer"
	KindIBAN          = "iban"
	KindPassword      = "password"
)

// sensitiveRule is one kind the guard looks for: its name in messages, and the test applied to
// the digits of each digit run (as values 0–9).
type sensitiveRule struct {
	kind  string
	what  string
	match func(d []byte) bool
}

// sensitiveRules lists the kinds in the order each run is tested: when a run matches several,
// the first one the field does not allow is reported.
var sensitiveRules = []sensitiveRule{
	{KindCardNumber, "a payment card number", isCardNumber},
	{KindPESEL, "a Polish PESEL number", isPESEL},
	{KindFodselsnummer, "a Norwegian fødselsnummer", isFodselsnummer},
}

// SensitiveKinds returns the kinds the guard knows, sorted.
func SensitiveKinds() []string {
	kinds := make([]string, 0, len(sensitiveRules)+2)
	for _, r := range sensitiveRules {
		kinds = append(kinds, r.kind)
	}
	kinds = append(kinds, KindIBAN, KindPassword)
	slices.Sort(kinds)
	return kinds
}

// CheckSensitive returns nil when value holds no sensitive kind outside allowed, and otherwise
// an EINVALID *Error made with FieldError(field, kind, …) for the first offending digit run.
// The message names the field and the rule and tells how to allow it; it never contains the
// value or any part of it.
//
// The value is normalised first (guardText): NFKC, so full-width digits and no-break spaces
// count as digits and spaces; Unicode format characters (zero-width spaces and joiners, soft
// hyphens, byte order marks, direction marks) removed, as they are invisible; every space a
// ' ' and every dash a '-'. Its digit runs (see digitRuns) are then tested, in this order, as:
//   - card_number: 13–19 digits passing the Luhn check;
//   - pesel: 11 digits with the PESEL checksum and a valid encoded birth date (isPESEL);
//   - fodselsnummer: 11 digits with both mod-11 check digits and a valid DDMMYY date, D-numbers
//     included (isFodselsnummer).
//
// Then the value is searched for
//   - iban: an IBAN (see findIBAN): a known country code, two check digits and the country's
//     length of letters and digits, grouped or not, passing the ISO 13616 mod-97 check;
//   - password: a credential written out after its label (see findPassword), such as
//     "password: …", "passord=…" or "hasło: …".
//
// It never panics, whatever the input (invalid UTF-8 included), and runs in linear time.
func CheckSensitive(field, value string, allowed []string) error {
	s := guardText(value)
	for d := range digitRuns(s) {
		for _, r := range sensitiveRules {
			if !slices.Contains(allowed, r.kind) && r.match(d) {
				return sensitiveError(field, r.kind, r.what)
			}
		}
	}
	if !slices.Contains(allowed, KindIBAN) && findIBAN(s) {
		return sensitiveError(field, KindIBAN, "a bank account number (IBAN)")
	}
	if !slices.Contains(allowed, KindPassword) && findPassword(s) {
		return sensitiveError(field, KindPassword, "a password or other credential")
	}
	return nil
}

func sensitiveError(field, kind, what string) error {
	return FieldError(field, kind, "field %q looks like it holds %s (rule %s); such values are refused unless the field allows %s",
		field, what, kind, kind)
}

// guardText returns value as the guard reads it: NFKC-normalised, Unicode format characters
// (category Cf) dropped, every space separator (Zs) a ' ' and every dash (Pd) a '-'.
func guardText(value string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < utf8.RuneSelf:
			return r
		case unicode.Is(unicode.Cf, r):
			return -1
		case unicode.Is(unicode.Zs, r):
			return ' '
		case unicode.Is(unicode.Pd, r):
			return '-'
		}
		return r
	}, norm.NFKC.String(value))
}

// maxRunDigits is the longest run any kind can match: longer runs are never yielded.
const maxRunDigits = 19

// digitRuns yields the digits (as values 0–9) of each digit run in s, left to right.
//
// A digit run is a maximal sequence of ASCII digits in which a single separator may stand
// between two digits: a space or a '-' ("4111 1111-1111 1111" is one run of 16 digits), or a
// '.' ("4111.1111.1111.1111"). Two separators in a row end a run, and so does a separator of
// the other sort than the run's first: "12.03.2024 19.03.2024" is two runs, not 16 digits. A run is only yielded when it stands at a word boundary, that is when neither
// the character before its first digit nor the one after its last is a letter or a digit (so the
// digits of an IBAN such as "NO93 8601 1117 947" are not a run), and when it is not preceded by
// '+', which marks a phone number in international form. Runs of more than maxRunDigits digits
// are not yielded. The yielded slice is reused between runs.
func digitRuns(s string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		var buf [maxRunDigits]byte
		for i := 0; i < len(s); {
			if !isASCIIDigit(s[i]) {
				i++ // digits and separators are ASCII, so stepping over bytes is safe in UTF-8
				continue
			}
			start := i
			end, n := scanDigitRun(s, start, buf[:])
			i = end
			if n <= maxRunDigits && runStandsAlone(s, start, end) && !yield(buf[:n]) {
				return
			}
		}
	}
}

// scanDigitRun scans the digit run starting at s[i], which must be a digit. It returns the index
// just past the run's last digit and the number of digits, and stores the first len(buf) digits
// in buf as values 0–9.
func scanDigitRun(s string, i int, buf []byte) (end, n int) {
	var sort byte // of the run's separators: 0 none yet, '.' dots, ' ' spaces and dashes
	for {
		if n < len(buf) {
			buf[n] = s[i] - '0'
		}
		n++
		i++
		if i+1 >= len(s) || !isASCIIDigit(s[i+1]) {
			if i >= len(s) || !isASCIIDigit(s[i]) {
				return i, n
			}
			continue
		}
		switch s[i] {
		case ' ', '-':
			if sort == '.' {
				return i, n
			}
			sort = ' '
			i++
		case '.':
			if sort == ' ' {
				return i, n
			}
			sort = '.'
			i++
		default:
			if !isASCIIDigit(s[i]) {
				return i, n
			}
		}
	}
}

// runStandsAlone reports whether the run s[start:end] stands at a word boundary and is not
// preceded by '+'. Invalid UTF-8 around the run counts as a boundary: refusing too much is safer.
func runStandsAlone(s string, start, end int) bool {
	before, _ := utf8.DecodeLastRuneInString(s[:start])
	after, _ := utf8.DecodeRuneInString(s[end:])
	return before != '+' && !isWordRune(before) && !isWordRune(after)
}

func isASCIIDigit(b byte) bool { return '0' <= b && b <= '9' }

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// isCardNumber reports whether d has 13–19 digits and passes the Luhn check.
func isCardNumber(d []byte) bool {
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// isPESEL reports whether d is a PESEL: 11 digits YYMMDDZZZZQ whose check digit Q is
// (10 - sum%10) % 10 for the weights 1,3,7,9,1,3,7,9,1,3, and whose date exists. The month
// carries the century: +80 for the 1800s, +0 for the 1900s, +20 for the 2000s, +40 for the
// 2100s and +60 for the 2200s.
func isPESEL(d []byte) bool {
	if len(d) != 11 {
		return false
	}
	weights := [10]int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}
	sum := 0
	for i, w := range weights {
		sum += w * int(d[i])
	}
	if (10-sum%10)%10 != int(d[10]) {
		return false
	}
	year, month, day := twoDigits(d, 0), twoDigits(d, 2), twoDigits(d, 4)
	century := [5]int{1900, 2000, 2100, 2200, 1800}[month/20]
	month %= 20
	return month >= 1 && month <= 12 && day >= 1 && day <= guardDaysIn(century+year, month)
}

// isFodselsnummer reports whether d is a Norwegian fødselsnummer: 11 digits DDMMYYIIIK1K2
// where K1 and K2 are mod-11 check digits (K1 with the weights 3,7,6,1,8,9,4,5,2 over the first
// 9 digits, K2 with 5,4,3,2,7,6,5,4,3,2 over the first 10), and DDMM is a day that exists in
// some year. D-numbers, whose day is increased by 40, are accepted.
func isFodselsnummer(d []byte) bool {
	if len(d) != 11 {
		return false
	}
	k1 := mod11Check(d[:9], fodselsnummerK1Weights[:])
	k2 := mod11Check(d[:10], fodselsnummerK2Weights[:])
	if k1 != int(d[9]) || k2 != int(d[10]) {
		return false
	}
	day, month := twoDigits(d, 0), twoDigits(d, 2)
	if day > 40 {
		day -= 40
	}
	// The individual number gives the century only loosely, so any leap year will do: 29 Feb
	// is accepted in every year.
	return month >= 1 && month <= 12 && day >= 1 && day <= guardDaysIn(2000, month)
}

// Weights of the fødselsnummer check digits.
var (
	fodselsnummerK1Weights = [9]int{3, 7, 6, 1, 8, 9, 4, 5, 2}
	fodselsnummerK2Weights = [10]int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
)

// mod11Check returns the fødselsnummer check digit of d for weights (as many as digits):
// 11 - sum%11, where 11 gives 0, and -1 where 10 makes the number invalid.
func mod11Check(d []byte, weights []int) int {
	sum := 0
	for i := range d {
		sum += weights[i] * int(d[i])
	}
	switch k := 11 - sum%11; k {
	case 11:
		return 0
	case 10:
		return -1
	default:
		return k
	}
}

// twoDigits returns the number written by d[i] and d[i+1].
func twoDigits(d []byte, i int) int { return 10*int(d[i]) + int(d[i+1]) }

// guardDaysIn returns the number of days in month (1–12) of the Gregorian year.
func guardDaysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
