package skjold

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Period is a calendar period of years, months and days, as in ISO 8601 "P5Y", "P6M",
// "P1Y2M10D" or "P2W".
type Period struct {
	Years, Months, Days int
}

// ParsePeriod parses the date part of an ISO 8601 duration: P, then any of nY, nM, nW, nD in
// that order, at least one, each n at most 4 digits. Time parts (PT…) are not accepted:
// retention is counted in days.
func ParsePeriod(s string) (Period, error) {
	var p Period
	if len(s) < 3 || s[0] != 'P' {
		return p, errors.New("period must start with P")
	}
	order := "YMWD"
	rest := s[1:]
	for rest != "" {
		i := 0
		for i < len(rest) && i < 5 && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 4 || i == len(rest) {
			return p, errors.New("malformed period")
		}
		n, _ := strconv.Atoi(rest[:i])
		unit := rest[i]
		pos := strings.IndexByte(order, unit)
		if pos < 0 {
			return p, errors.New("unknown period unit")
		}
		order = order[pos+1:] // units must come in order, each at most once
		switch unit {
		case 'Y':
			p.Years = n
		case 'M':
			p.Months = n
		case 'W':
			p.Days += 7 * n
		case 'D':
			p.Days += n
		}
		rest = rest[i+1:]
	}
	return p, nil
}

// AddTo returns t moved forward by the period.
func (p Period) AddTo(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }
