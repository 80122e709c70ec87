package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Close()
	os.Exit(code)
}

// The vendored axe-core is the release the README names, byte for byte.
func TestAxeVendored(t *testing.T) {
	readme, err := os.ReadFile("axe/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(axeSource))
	if !strings.Contains(string(readme), "| axe.min.js | `"+hex.EncodeToString(sum[:])+"` |") {
		t.Errorf("axe/README.md does not name the sha256 of axe.min.js, %x", sum)
	}
	if !strings.Contains(string(readme), "**"+AxeVersion+"**") || !strings.Contains(axeSource, "axe v"+AxeVersion) {
		t.Errorf("axe.min.js, axe/README.md and AxeVersion %s disagree", AxeVersion)
	}
}

func open(t *testing.T, html string) context.Context {
	t.Helper()
	ctx := Tab(t)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html;charset=utf-8,"+url.PathEscape(html)), chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// The checks can fail: a page with an unlabelled field, an image without a text
// alternative and grey-on-white text has serious or critical violations; a link taken out
// of the Tab order and a button whose focus does not show are found by the keyboard walk.
func TestChecksFindProblems(t *testing.T) {
	t.Parallel()
	ctx := open(t, `<!doctype html><html lang="en"><head><title>bad</title>
<style>button:focus { outline: none; } .faint { color: #cccccc; }</style></head><body><main>
<h1>Bad page</h1><p class="faint">Hard to read</p><img src="x.png">
<form><input name="q"><button type="submit">Search</button></form>
<a href="/away" tabindex="-1">Out of reach</a>
<fieldset><legend>Pick</legend><label><input type="radio" name="r" value="1">One</label>
<label><input type="radio" name="r" value="2">Two</label></fieldset>
</main></body></html>`)
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, v := range vs {
		found[v.Rule] = true
	}
	for _, rule := range []string{"label", "image-alt", "color-contrast"} {
		if !found[rule] {
			t.Errorf("axe-core did not report %s; it reported %v", rule, vs)
		}
	}
	problems, err := Keyboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{`Tab never reaches a[href=/away] "Out of reach"`, `no visible focus on button "Search"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("keyboard walk did not report %q; it reported:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "radio") || strings.Contains(joined, "input[name=q]") {
		t.Errorf("keyboard walk reported reachable elements:\n%s", joined)
	}
}

// A plain, labelled page passes both checks.
func TestChecksPassGoodPage(t *testing.T) {
	t.Parallel()
	ctx := open(t, `<!doctype html><html lang="en"><head><title>good</title></head><body><main>
<h1>Good page</h1><p>Easy to read</p>
<form><label for="q">Search for</label><input id="q" name="q"><button type="submit">Search</button></form>
<a href="/next">Next page</a></main></body></html>`)
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Errorf("axe-core reported %v", vs)
	}
	problems, err := Keyboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Errorf("keyboard walk reported %v", problems)
	}
}
