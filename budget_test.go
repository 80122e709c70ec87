package skjold

import (
	"errors"
	"testing"
)

func TestReadBudgetValidate(t *testing.T) {
	ok := DefaultReadBudget()
	for _, tc := range []struct {
		name  string
		edit  func(*ReadBudget)
		field string // "" for valid
	}{
		{"defaults", func(*ReadBudget) {}, ""},
		{"a minute's budget equal to a day's", func(b *ReadBudget) { b.PerMinute, b.PerDay = 500, 500 }, ""},
		{"no reads at all", func(b *ReadBudget) { b.PerMinute = 0 }, "per_minute"},
		{"negative", func(b *ReadBudget) { b.PerDay = -1 }, "per_day"},
		{"a minute above the day", func(b *ReadBudget) { b.PerMinute, b.PerDay = 2000, 1000 }, "per_day"},
		{"above the minute's bound", func(b *ReadBudget) { b.PerMinute = b.MaxPerMinute + 1 }, "per_minute"},
		{"above the day's bound", func(b *ReadBudget) { b.PerDay = b.MaxPerDay + 1 }, "per_day"},
		{"bound beyond any sense", func(b *ReadBudget) { b.MaxPerMinute = maxReadBudget + 1 }, "max_per_minute"},
		{"day's bound below the minute's", func(b *ReadBudget) { b.MaxPerDay = b.MaxPerMinute - 1 }, "max_per_day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.edit(&b)
			err := b.Validate()
			var fe *Error
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", b, err)
			case tc.field != "" && (err == nil || !errors.As(err, &fe) || fe.Code != EINVALID || fe.Field != tc.field):
				t.Errorf("Validate(%+v) = %v, want EINVALID on %s", b, err, tc.field)
			}
		})
	}
}

func TestReadBudgetWithin(t *testing.T) {
	bounds := ReadBudget{PerMinute: 10, PerDay: 100, MaxPerMinute: 50, MaxPerDay: 400}
	got := ReadBudget{PerMinute: 80, PerDay: 300, MaxPerMinute: 1000, MaxPerDay: 9000}.Within(bounds)
	if want := (ReadBudget{PerMinute: 50, PerDay: 300, MaxPerMinute: 50, MaxPerDay: 400}); got != want {
		t.Errorf("Within = %+v, want %+v", got, want)
	}
}
