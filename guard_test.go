package skjold

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// guardCase is one input to CheckSensitive. rule is the expected Rule, "" when the value must
// pass; secret is the sensitive number that must never appear in the message.
type guardCase struct {
	name    string
	value   string
	allowed []string
	rule    string
	secret  string
}

// guardCases returns the table shared by TestCheckSensitive and the fuzz seeds.
func guardCases() []guardCase {
	const visa, pesel, both = "4111111111111111", "44051401359", "01022266531"
	card13, card19 := luhnNumber("411111111111"), luhnNumber("622126000000000000")
	card20 := luhnNumber("4111111111111111111")
	pesel2000, pesel1800 := makePESEL(2004, 2, 29, 1234), makePESEL(1899, 12, 31, 9876)
	pesel2100, pesel2200 := makePESEL(2100, 3, 1, 42), makePESEL(2299, 7, 15, 7)
	fnr, dnr := makeFodselsnummer(15, 8, 87, 123), makeFodselsnummer(15+40, 8, 87, 456)
	fnrLeap := makeFodselsnummer(29, 2, 85, 10) // 1985 was no leap year; any year will do
	return []guardCase{
		{name: "empty", value: ""},
		{name: "plain text", value: "call me on Tuesday about order 12345"},

		// Card numbers.
		{name: "visa", value: visa, rule: KindCardNumber, secret: visa},
		{name: "mastercard", value: "5555555555554444", rule: KindCardNumber, secret: "5555555555554444"},
		{name: "amex", value: "378282246310005", rule: KindCardNumber, secret: "378282246310005"},
		{name: "amex grouped", value: "3782 822463 10005", rule: KindCardNumber, secret: "378282246310005"},
		{name: "13 digits", value: card13, rule: KindCardNumber, secret: card13},
		{name: "19 digits", value: card19, rule: KindCardNumber, secret: card19},
		{name: "spaces", value: "4111 1111 1111 1111", rule: KindCardNumber, secret: visa},
		{name: "dashes", value: "4111-1111-1111-1111", rule: KindCardNumber, secret: visa},
		{name: "mixed separators", value: "4111 1111-1111 1111", rule: KindCardNumber, secret: visa},
		{name: "no-break spaces", value: "4111\u00a01111\u00a01111\u00a01111", rule: KindCardNumber, secret: visa},
		{name: "in a sentence", value: "Please charge 4111 1111 1111 1111, thanks!", rule: KindCardNumber, secret: visa},
		{name: "in brackets", value: "card:(4111-1111-1111-1111).", rule: KindCardNumber, secret: visa},
		{name: "trailing separator", value: "4111 1111 1111 1111 - paid", rule: KindCardNumber, secret: visa},
		{name: "second run", value: "order 12345, card 4111111111111111", rule: KindCardNumber, secret: visa},
		{name: "full-width digits", value: "４１１１１１１１１１１１１１１１", rule: KindCardNumber, secret: visa},
		{name: "full-width spaced", value: "４１１１　１１１１　１１１１　１１１１", rule: KindCardNumber, secret: visa},
		{name: "invalid UTF-8 around", value: "\xff4111111111111111\xfe", rule: KindCardNumber, secret: visa},
		{name: "card allowed", value: visa, allowed: []string{KindCardNumber}},
		{name: "other kind allowed", value: visa, allowed: []string{KindPESEL}, rule: KindCardNumber, secret: visa},
		{name: "bad Luhn", value: "4111111111111112"},
		{name: "12 digits", value: "411111111116"},
		{name: "20 digits", value: card20},
		{name: "two spaces split", value: "4111  1111  1111  1111"},
		{name: "spaced dash splits", value: "4111 - 1111 - 1111 - 1111"},
		{name: "after letters", value: "ref4111111111111111"},
		{name: "before letters", value: "4111111111111111abc"},
		{name: "plus prefix", value: "+4111111111111111"},
		{name: "dots", value: "4111.1111.1111.1111", rule: KindCardNumber, secret: visa},
		{name: "zero-width spaces", value: "4111\u200b1111\u200b1111\u200b1111", rule: KindCardNumber, secret: visa},
		{name: "zero-width between every digit", value: "4\u200c1\u200d1\u20601\ufeff111111111111", rule: KindCardNumber, secret: visa},
		{name: "soft hyphens", value: "4111\u00ad1111\u00ad1111\u00ad1111", rule: KindCardNumber, secret: visa},
		{name: "zero-width and spaces", value: "4111 \u200b1111 1111 1111", rule: KindCardNumber, secret: visa},
		{name: "en dashes", value: "4111\u20131111\u20131111\u20131111", rule: KindCardNumber, secret: visa},
		{name: "non-breaking hyphens", value: "4111\u20111111\u20111111\u20111111", rule: KindCardNumber, secret: visa},
		{name: "narrow no-break spaces", value: "4111\u202f1111\u202f1111\u202f1111", rule: KindCardNumber, secret: visa},
		{name: "dotted dates stay apart", value: "12.03.2024 19.03.2024"},
		{name: "dot then space splits", value: "4111.1111 1111.1111"},
		{name: "two dots split", value: "4111..1111..1111..1111"},
		{name: "sentence end", value: "Paid with 4111.1111.1111.1111.", rule: KindCardNumber, secret: visa},

		// PESEL.
		{name: "pesel", value: pesel, rule: KindPESEL, secret: pesel},
		{name: "pesel spaced", value: "PESEL: 440514 01359.", rule: KindPESEL, secret: pesel},
		{name: "pesel 2000s leap day", value: pesel2000, rule: KindPESEL, secret: pesel2000},
		{name: "pesel 1800s", value: pesel1800, rule: KindPESEL, secret: pesel1800},
		{name: "pesel 2100s", value: pesel2100, rule: KindPESEL, secret: pesel2100},
		{name: "pesel 2200s", value: pesel2200, rule: KindPESEL, secret: pesel2200},
		{name: "pesel before dash", value: pesel + "-abc", rule: KindPESEL, secret: pesel},
		{name: "pesel allowed", value: pesel, allowed: []string{KindPESEL}},
		{name: "pesel bad checksum", value: "44051401358"},
		{name: "pesel 30 Feb", value: makePESEL(1999, 2, 30, 1234)},
		{name: "pesel 29 Feb 1900", value: makePESEL(1900, 2, 29, 1234)},
		{name: "pesel 29 Feb 2100", value: makePESEL(2100, 2, 29, 1234)},
		{name: "pesel month 13", value: makePESEL(1950, 13, 1, 1234)},
		{name: "pesel after letter", value: "x" + pesel},

		// Fødselsnummer.
		{name: "fnr", value: fnr, rule: KindFodselsnummer, secret: fnr},
		{name: "fnr spaced", value: "fnr " + fnr[:6] + " " + fnr[6:], rule: KindFodselsnummer, secret: fnr},
		{name: "d-number", value: dnr, rule: KindFodselsnummer, secret: dnr},
		{name: "fnr 29 Feb", value: fnrLeap, rule: KindFodselsnummer, secret: fnrLeap},
		{name: "fnr allowed", value: fnr, allowed: []string{KindFodselsnummer}},
		{name: "fnr bad k2", value: fnr[:10] + string('0'+(fnr[10]-'0'+1)%10)},
		{name: "fnr 30 Feb", value: makeFodselsnummer(30, 2, 90, 123)},
		{name: "fnr day 0", value: makeFodselsnummer(0, 8, 87, 123)},
		{name: "d-number day 32", value: makeFodselsnummer(32+40, 8, 87, 123)},

		// A number that is both: the first kind not allowed is reported.
		{name: "both", value: both, rule: KindPESEL, secret: both},
		{name: "both, pesel allowed", value: both, allowed: []string{KindPESEL}, rule: KindFodselsnummer, secret: both},
		{name: "both allowed", value: both, allowed: []string{KindPESEL, KindFodselsnummer}},
		{name: "all allowed", value: visa + " " + pesel + " " + fnr, allowed: SensitiveKinds()},

		// Look-alikes.
		{name: "date", value: "2024-05-01"},
		{name: "date and time", value: "born 2024-05-01 12:30"},
		{name: "phone PL", value: "+48 512 345 678"},
		{name: "phone NO", value: "+4791234567"},
		{name: "IBAN NO", value: "NO93 8601 1117 947", rule: KindIBAN, secret: "86011117947"},
		{name: "IBAN PL", value: "PL61 1090 1014 0000 0712 1981 2874", rule: KindIBAN, secret: "61109010140000071219812874"},
		{name: "IBAN-like, Luhn-valid digits", value: "NO41 1111 1111 1111 11"},

		// IBANs.
		{name: "IBAN NO unspaced", value: "NO9386011117947", rule: KindIBAN, secret: "86011117947"},
		{name: "IBAN lower case", value: "konto no93 8601 1117 947.", rule: KindIBAN, secret: "86011117947"},
		{name: "IBAN DE in a sentence", value: "Pay to DE89 3704 0044 0532 0130 00, thanks", rule: KindIBAN, secret: "370400440532013000"},
		{name: "IBAN GB", value: "GB29NWBK60161331926819", rule: KindIBAN, secret: "60161331926819"},
		{name: "IBAN zero-width", value: "NO93\u200b8601\u200b1117\u200b947", rule: KindIBAN, secret: "86011117947"},
		{name: "IBAN allowed", value: "NO93 8601 1117 947", allowed: []string{KindIBAN}},
		{name: "IBAN bad check digits", value: "NO94 8601 1117 947"},
		{name: "IBAN too long", value: "NO93 8601 1117 9471"},
		{name: "IBAN after letters", value: "XNO9386011117947"},
		{name: "IBAN unknown country", value: "QQ93 8601 1117 947"},

		// Credentials.
		{name: "password", value: "Password: hunter22", rule: KindPassword, secret: "hunter22"},
		{name: "password equals", value: "login anna, pwd=Sommer2024", rule: KindPassword, secret: "Sommer2024"},
		{name: "passord", value: "Passord : Fjord-Troll-9", rule: KindPassword, secret: "Fjord-Troll-9"},
		{name: "hasło", value: "HASŁO: tajne123", rule: KindPassword, secret: "tajne123"},
		{name: "pin", value: "PIN: 4711", rule: KindPassword, secret: "4711"},
		{name: "password allowed", value: "password: hunter22", allowed: []string{KindPassword}},
		{name: "password talk", value: "customer asked to reset the password"},
		{name: "password changed", value: "password changed: yes"},
		{name: "password short", value: "password: abc"},
		{name: "label in a word", value: "spin: 12345"},
		{name: "same digits, no letters", value: "41 1111 1111 1111 11", rule: KindCardNumber, secret: visa},
		{name: "phone with PESEL digits", value: "+44 051 401 359"},
		{name: "phone with fnr digits", value: "+" + fnr},
	}
}

func TestCheckSensitive(t *testing.T) {
	for _, tc := range guardCases() {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSensitive("notes", tc.value, tc.allowed)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("CheckSensitive = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("CheckSensitive = %v, want *Error", err)
			}
			if e.Code != EINVALID || e.Field != "notes" || e.Rule != tc.rule {
				t.Errorf("got code %q field %q rule %q, want %q %q %q", e.Code, e.Field, e.Rule, EINVALID, "notes", tc.rule)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"notes"`) || !strings.Contains(msg, "allows "+tc.rule) {
				t.Errorf("message %q does not name the field and how to allow %s", msg, tc.rule)
			}
			assertNoSecret(t, msg, tc.secret)
		})
	}
}

// assertNoSecret fails when msg holds the digits of secret or any 4-digit group of them.
func assertNoSecret(t *testing.T, msg, secret string) {
	t.Helper()
	if secret == "" {
		t.Fatal("test case has no secret")
	}
	if strings.Contains(msg, secret) {
		t.Errorf("message %q contains the sensitive number", msg)
	}
	for i := 0; i+4 <= len(secret); i += 4 {
		if strings.Contains(msg, secret[i:i+4]) {
			t.Errorf("message %q contains the group %s", msg, secret[i:i+4])
		}
	}
}

func TestSensitiveKinds(t *testing.T) {
	want := []string{KindCardNumber, KindFodselsnummer, KindIBAN, KindPassword, KindPESEL}
	if got := SensitiveKinds(); !slices.Equal(got, want) {
		t.Errorf("SensitiveKinds() = %v, want %v", got, want)
	}
}

// TestCheckSensitiveGuardHuge checks that long inputs are handled (in linear time, which
// BenchmarkCheckSensitive measures) and that a number after them is still found.
func TestCheckSensitiveGuardHuge(t *testing.T) {
	for name, value := range map[string]string{
		"one long run":  strings.Repeat("4", 1<<20),
		"spaced digits": strings.Repeat("1 ", 1<<20),
		"dashed digits": strings.Repeat("1-", 1<<20),
		"full-width":    strings.Repeat("４ ", 1<<18),
		"letters":       strings.Repeat("a1", 1<<20),
	} {
		if err := CheckSensitive("notes", value, nil); err != nil {
			t.Errorf("%s: CheckSensitive = %v, want nil", name, err)
		}
		err := CheckSensitive("notes", value+"  4111 1111 1111 1111", nil)
		if e := (*Error)(nil); !errors.As(err, &e) || e.Rule != KindCardNumber {
			t.Errorf("%s: card after the text: CheckSensitive = %v, want rule %s", name, err, KindCardNumber)
		}
	}
}

func FuzzCheckSensitive(f *testing.F) {
	for _, tc := range guardCases() {
		f.Add(tc.value, uint8(0))
		f.Add(tc.value, uint8(1<<len(SensitiveKinds())-1))
	}
	kinds := SensitiveKinds()
	f.Fuzz(func(t *testing.T, value string, mask uint8) {
		var allowed []string
		for i, k := range kinds {
			if mask&(1<<i) != 0 {
				allowed = append(allowed, k)
			}
		}
		if err := CheckSensitive("notes", value, kinds); err != nil {
			t.Fatalf("all kinds allowed: CheckSensitive = %v", err)
		}
		err := CheckSensitive("notes", value, allowed)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != EINVALID || !slices.Contains(kinds, e.Rule) || slices.Contains(allowed, e.Rule) {
			t.Fatalf("CheckSensitive(allowed %v) = %#v", allowed, err)
		}
		if w := leakedDigits(err.Error(), value); w != "" {
			t.Fatalf("message %q leaks the digits %s of the input", err.Error(), w)
		}
	})
}

// leakedDigits returns a 6-digit window of a digit run in msg that also appears in value,
// as written, NFKC-normalised, or with everything but digits removed; "" when there is none.
func leakedDigits(msg, value string) string {
	normal := norm.NFKC.String(value)
	digits := strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, normal)
	for run := range strings.FieldsFuncSeq(msg, func(r rune) bool { return r < '0' || r > '9' }) {
		for i := 0; i+6 <= len(run); i++ {
			w := run[i : i+6]
			if strings.Contains(value, w) || strings.Contains(normal, w) || strings.Contains(digits, w) {
				return w
			}
		}
	}
	return ""
}

func BenchmarkCheckSensitive(b *testing.B) {
	value := strings.Repeat("Order 2024-05-01, call +47 912 34 567, ref 1234 5678. ", 1000)
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := CheckSensitive("notes", value, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// luhnNumber returns payload followed by its Luhn check digit.
func luhnNumber(payload string) string {
	sum := 0
	for i := range len(payload) {
		v := int(payload[len(payload)-1-i] - '0')
		if i%2 == 0 { // doubled: the check digit will take the last place
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return payload + fmt.Sprint((10-sum%10)%10)
}

// makePESEL returns the PESEL for a birth date (month and day are not checked) and a
// 4-digit serial number.
func makePESEL(year, month, day, serial int) string {
	offset := map[int]int{18: 80, 19: 0, 20: 20, 21: 40, 22: 60}[year/100]
	s := fmt.Sprintf("%02d%02d%02d%04d", year%100, month+offset, day, serial)
	sum := 0
	for i, w := range []int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3} {
		sum += w * int(s[i]-'0')
	}
	return s + fmt.Sprint((10-sum%10)%10)
}

// makeFodselsnummer returns a fødselsnummer for day (plus 40 for a D-number), month and 2-digit
// year (none checked), with the first individual number from individual on that gives valid
// check digits.
func makeFodselsnummer(day, month, year, individual int) string {
	check := func(s string, weights []int) int {
		sum := 0
		for i, w := range weights {
			sum += w * int(s[i]-'0')
		}
		return (11 - sum%11) % 11 // 11 gives 0; 10 stays 10, which is invalid
	}
	for n := individual; ; n = (n + 1) % 1000 {
		s := fmt.Sprintf("%02d%02d%02d%03d", day, month, year, n)
		k1 := check(s, []int{3, 7, 6, 1, 8, 9, 4, 5, 2})
		if k1 == 10 {
			continue
		}
		s += fmt.Sprint(k1)
		if k2 := check(s, []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}); k2 != 10 {
			return s + fmt.Sprint(k2)
		}
	}
}
