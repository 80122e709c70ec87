// Package i18n holds the message catalogues of everything people read in the console, one
// TOML file per language under messages/, and formats dates and numbers the way each
// language writes them. English is the reference: every other catalogue must hold exactly its
// keys (a test fails otherwise), and a key that is missing at run time shows as [[key]], which
// the page tests look for.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/skjold-project/skjold"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

//go:embed messages/*.toml
var files embed.FS

// Languages are the languages Skjold speaks, the default first.
var Languages = skjold.Languages

// Default is the language used when nothing better is known.
const Default = "en"

// Bundle is every catalogue, loaded once.
type Bundle struct {
	cats    map[string]*Catalogue
	matcher language.Matcher
	tags    []language.Tag
}

// Catalogue is one language's messages and formats.
type Catalogue struct {
	lang string
	msgs map[string]string
	num  *message.Printer
	zone *time.Location
}

// New loads the embedded catalogues. Dates are shown in zone (nil: the machine's zone).
func New(zone *time.Location) (*Bundle, error) {
	return load(files, zone)
}

func load(fsys fs.FS, zone *time.Location) (*Bundle, error) {
	if zone == nil {
		zone = time.Local
	}
	b := &Bundle{cats: map[string]*Catalogue{}}
	for _, lang := range Languages {
		raw, err := fs.ReadFile(fsys, path.Join("messages", lang+".toml"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		var tree map[string]any
		if err := toml.Unmarshal(raw, &tree); err != nil {
			return nil, fmt.Errorf("i18n: messages/%s.toml: %w", lang, err)
		}
		msgs := map[string]string{}
		if err := flatten("", tree, msgs); err != nil {
			return nil, fmt.Errorf("i18n: messages/%s.toml: %w", lang, err)
		}
		tag := language.MustParse(lang)
		b.cats[lang] = &Catalogue{lang: lang, msgs: msgs, num: message.NewPrinter(tag), zone: zone}
		b.tags = append(b.tags, tag)
	}
	b.matcher = language.NewMatcher(b.tags)
	return b, nil
}

// flatten turns nested TOML tables into dotted keys.
func flatten(prefix string, tree map[string]any, out map[string]string) error {
	for k, v := range tree {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			out[key] = v
		case map[string]any:
			if err := flatten(key, v, out); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: a message must be a string", key)
		}
	}
	return nil
}

// Get returns the catalogue of lang, or the default language's for an unknown one.
func (b *Bundle) Get(lang string) *Catalogue {
	if c, ok := b.cats[lang]; ok {
		return c
	}
	return b.cats[Default]
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool { return slices.Contains(Languages, lang) }

// Match returns the best of Languages for an Accept-Language header (Norwegian "no" and
// "nn" get bokmål), or Default.
func (b *Bundle) Match(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	for i, t := range tags { // the matcher does not equate "no" and "nn" with bokmål by itself
		if base, _ := t.Base(); base.String() == "no" || base.String() == "nn" {
			tags[i] = language.MustParse("nb")
		}
	}
	_, i, conf := b.matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return Languages[i]
}

// Problems lists the keys that a catalogue lacks or has beyond the reference (English), and
// placeholders that differ from the reference's.
func (b *Bundle) Problems() []string {
	var out []string
	ref := b.cats[Default].msgs
	for _, lang := range Languages[1:] {
		msgs := b.cats[lang].msgs
		for _, k := range slices.Sorted(maps.Keys(ref)) {
			v, ok := msgs[k]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s: missing key %s", lang, k))
			case !slices.Equal(placeholders(v), placeholders(ref[k])):
				out = append(out, fmt.Sprintf("%s: %s has placeholders %v, English has %v", lang, k, placeholders(v), placeholders(ref[k])))
			case strings.TrimSpace(v) == "":
				out = append(out, fmt.Sprintf("%s: %s is empty", lang, k))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(msgs)) {
			if _, ok := ref[k]; !ok {
				out = append(out, fmt.Sprintf("%s: key %s is not in the English catalogue", lang, k))
			}
		}
	}
	return out
}

// Keys returns the reference catalogue's keys, sorted.
func (b *Bundle) Keys() []string { return slices.Sorted(maps.Keys(b.cats[Default].msgs)) }

// placeholders returns the sorted names of the {name} placeholders in s.
func placeholders(s string) []string {
	var names []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		names = append(names, s[i+1:i+j])
		s = s[i+j+1:]
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Lang returns the catalogue's language code.
func (c *Catalogue) Lang() string { return c.lang }

// Has reports whether the catalogue holds key.
func (c *Catalogue) Has(key string) bool { _, ok := c.msgs[key]; return ok }

// MissingMark wraps a key that no catalogue holds, so that tests find it on a page.
func MissingMark(key string) string { return "[[" + key + "]]" }

// T returns the message key with its {name} placeholders filled from args, given as name,
// value pairs. Numbers and times are formatted the language's way. A missing key shows as
// [[key]].
func (c *Catalogue) T(key string, args ...any) string {
	msg, ok := c.msgs[key]
	if !ok {
		return MissingMark(key)
	}
	if len(args) == 0 {
		return msg
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", c.format(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

func (c *Catalogue) format(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int, int64, int32, float64:
		return c.Number(v)
	case time.Time:
		return c.DateTime(v)
	case *time.Time:
		if v == nil {
			return ""
		}
		return c.DateTime(*v)
	}
	return fmt.Sprint(v)
}

// Number formats n with the language's digit grouping and decimal mark.
func (c *Catalogue) Number(n any) string {
	return c.num.Sprint(number.Decimal(n))
}

// Date formats t as a calendar date the language's way ("5 December 2026", "5. desember
// 2026", "5 grudnia 2026").
func (c *Catalogue) Date(t time.Time) string {
	t = t.In(c.zone)
	return c.T("format.date", "day", strconv.Itoa(t.Day()), "month", c.T("format.month."+strconv.Itoa(int(t.Month()))),
		"year", strconv.Itoa(t.Year()))
}

// DateTime formats t as date and time of day (24-hour clock) the language's way.
func (c *Catalogue) DateTime(t time.Time) string {
	t = t.In(c.zone)
	return c.T("format.datetime", "date", c.Date(t), "time", t.Format("15:04"))
}
