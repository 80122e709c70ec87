// Package web holds the console's presentation: one html/template per page on a shared
// layout, the static CSS, JavaScript and images embedded in the binary, and the rendering
// of a page in the reader's language. It holds no rules and calls no service: the http
// package's console handlers do that, through the same services as the API, and hand the
// results here as a View.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// StaticPrefix is where the static files are served; each URL carries the file's hash, so
// that they can be cached for good.
const StaticPrefix = "/console/static/"

// Pages are the page templates, each rendered inside the layout: every file in templates/
// but the layout, the form helpers and the partials (files named _*.html), which every page
// may call.
var Pages, partials = func() (pages, partials []string) {
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		switch {
		case name == "layout" || name == "forms":
		case strings.HasPrefix(name, "_"):
			partials = append(partials, f)
		default:
			pages = append(pages, name)
		}
	}
	return pages, partials
}()

// Renderer renders pages.
type Renderer struct {
	pages  map[string]*template.Template
	assets map[string]string // file name → URL with hash
	bundle *i18n.Bundle
}

// New parses every page once.
func New(bundle *i18n.Bundle) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, assets: map[string]string{}, bundle: bundle}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		r.assets[name] = StaticPrefix + hex.EncodeToString(sum[:6]) + "/" + name
		return nil
	})
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": func(name string) (string, error) {
		if u, ok := r.assets[name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no static file %s", name)
	}}
	shared := append([]string{"templates/layout.html", "templates/forms.html", "templates/lock.html"}, partials...)
	for _, page := range Pages {
		files := append(slices.Clone(shared), "templates/"+page+".html")
		if page == "lock" {
			files = shared
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFiles, files...)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", page, err)
		}
		r.pages[page] = t
	}
	return r, nil
}

// Bundle returns the message catalogues the pages are written with.
func (r *Renderer) Bundle() *i18n.Bundle { return r.bundle }

// Render writes page with v. It renders into a buffer first, so that a template error
// leaves the response untouched for an error page.
func (r *Renderer) Render(w io.Writer, page string, v *View) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %s", page)
	}
	if v.Title == "" {
		v.Title = page + ".title"
	}
	root := "layout"
	if strings.HasPrefix(page, "privacy.") {
		root = "privacy-layout" // the privacy center's public pages: their own header and footer
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, root, v); err != nil {
		return fmt.Errorf("web: page %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// keyRE finds the message keys that templates name literally.
var keyRE = regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)

// TemplateKeys returns the message keys named literally in the templates, by file.
func TemplateKeys() (map[string][]string, error) {
	out := map[string][]string{}
	err := fs.WalkDir(templateFiles, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFiles.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			out[p] = append(out[p], m[1])
		}
		return nil
	})
	return out, err
}

// Static serves the embedded static files under StaticPrefix/<hash>/<name>. A URL's hash
// names one version of the file, so the answer may be cached for a year.
func (r *Renderer) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("file")
		u, ok := r.assets[name]
		if !ok || u != StaticPrefix+req.PathValue("hash")+"/"+name {
			http.NotFound(w, req)
			return
		}
		b, err := staticFiles.ReadFile("static/" + name)
		if err != nil {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Write(b)
	})
}

// NavItem is one entry of the navigation.
type NavItem struct {
	Href    string
	Key     string // message key of the label
	Current bool
}

// FieldError is a message shown next to a form field.
type FieldError struct {
	ID   string // the field's id
	Text string
}

// PolicyRule is one line of a shown password policy; Broken marks the rule a refused
// password broke.
type PolicyRule struct {
	Text   string
	Broken bool
}

// View is what a page shows. Pages call its methods for messages and formats.
type View struct {
	Cat         *i18n.Catalogue
	Title       string // message key of the page title
	Path        string // the page's path, for the forms that come back to it
	CSRF        string
	User        *skjold.User // nil before login
	SessionID   string
	Stage       string // the login step the page is for; "" when active
	Nav         []NavItem
	IdleSeconds int // > 0: the page locks itself after so long
	Notice      string
	FormError   string
	Errors      map[string]string // field → message
	Form        map[string]string // values to show again (never passwords)
	Policy      []PolicyRule
	Data        any
	Work        *WorkBanner // an operator person working in a tenant under a support grant
	// Maintenance lists the announced maintenance windows that have not ended [E6].
	Maintenance []*skjold.Maintenance
	// DPAPending asks the tenant's administrators to accept a new version of their data
	// processing agreement [G1].
	DPAPending bool
}

// WorkBanner tells an operator person on every page that they work in a tenant under a
// support grant, and until when.
type WorkBanner struct {
	Tenant string // the tenant's name
	Until  time.Time
}

// Lang returns the page's language code.
func (v *View) Lang() string { return v.Cat.Lang() }

// Languages returns the languages a reader may choose.
func (v *View) Languages() []string { return i18n.Languages }

// T returns a message in the page's language.
func (v *View) T(key string, args ...any) string { return v.Cat.T(key, args...) }

// DateTime formats a time in the page's language; a zero time shows as a dash.
func (v *View) DateTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return v.Cat.DateTime(t)
}

// Err returns the error shown next to field, or nil.
func (v *View) Err(field string) *FieldError {
	if msg, ok := v.Errors[field]; ok {
		return &FieldError{ID: field, Text: msg}
	}
	return nil
}

// Value returns the value to show again in field.
func (v *View) Value(field string) string { return v.Form[field] }

// RoleName returns the user's role in the page's language.
func (v *View) RoleName() string {
	if v.User == nil {
		return ""
	}
	kind := "tenant"
	if v.User.Operator() {
		kind = "operator"
	}
	if v.User.Role == skjold.RoleCustom && v.User.Profile != "" {
		return v.Cat.T("role.custom", "profile", v.User.Profile)
	}
	return v.Cat.T("role." + kind + "_" + v.User.Role)
}
