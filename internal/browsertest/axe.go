package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeSource is axe-core, vendored for the tests only (axe/README.md names the release and
// its checksum). It is embedded in this test helper, which only test binaries import, and
// is injected into the page under test through the DevTools protocol: Skjold never serves
// it, and the pages' content security policy stays as it is.
//
//go:embed axe/axe.min.js
var axeSource string

// AxeVersion is the vendored axe-core release.
const AxeVersion = "4.10.3"

// Violation is one axe-core rule that a page breaks, with the elements that break it.
type Violation struct {
	Rule    string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.Rule, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeRun runs the WCAG 2.0–2.2 A and AA rules and axe's best practices, and keeps the
// serious and critical violations.
const axeRun = `(async () => {
  const r = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    resultTypes: ["violations"],
  });
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(" ") + (n.failureSummary ? " [" + n.failureSummary.replace(/\s+/g, " ") + "]" : "")),
  }));
})()`

// Axe runs axe-core on the tab's current page and returns its serious and critical
// violations (none: nil).
func Axe(ctx context.Context) ([]Violation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+"\n;true")); err != nil {
			return nil, fmt.Errorf("load axe-core: %w", err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var out []Violation
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// keyboardSetup lists the page's interactive elements that a person can see and use (not
// those in a closed <details>, which its summary opens first), marks
// each with its number, notes how each looks without focus, and takes the focus off the
// page's elements, so that the first Tab goes to the first of them.
const keyboardSetup = `(() => {
  const sel = 'a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, iframe, ' +
    '[tabindex]:not([tabindex="-1"]), [contenteditable=""], [contenteditable="true"]';
  const look = el => { const s = getComputedStyle(el);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor, s.backgroundColor, s.textDecorationLine].join("|"); };
  window.__kbd = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.disabled || el.closest("[inert], [hidden], [aria-hidden=true]") || el.getClientRects().length === 0 ||
        !el.checkVisibility() || getComputedStyle(el).visibility === "hidden") continue;
    el.dataset.kbd = window.__kbd.length;
    window.__kbd.push({el, look: look(el), group: el.type === "radio" ? "radio:" + el.name : ""});
  }
  // Start the walk before the page's first element: a focus target that Tab leaves behind.
  let start = document.getElementById("__kbd_start");
  if (!start) {
    start = document.createElement("span");
    start.id = "__kbd_start";
    start.tabIndex = -1;
    document.body.prepend(start);
  }
  start.focus();
  return window.__kbd.length;
})()`

// keyboardStep reports which element has the focus after a Tab, and whether the focus
// shows: an outline at least 2 px wide, or a changed shadow, border or background.
const keyboardStep = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {i: -1};
  if (el.dataset.kbd === undefined) return {i: -2, what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")};
  const i = Number(el.dataset.kbd), s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 && s.outlineColor !== "rgba(0, 0, 0, 0)";
  const look = [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor, s.backgroundColor, s.textDecorationLine].join("|");
  return {i, shows: outline || look !== window.__kbd[i].look};
})()`

const keyboardNames = `window.__kbd.map(k => { const el = k.el;
  return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("href") ? "[href=" + el.getAttribute("href") + "]" : "") +
    (el.name ? "[name=" + el.name + "]" : "") + " " + JSON.stringify((el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40)) +
    (k.group ? " " + k.group : ""); })`

// Keyboard walks the tab's current page with the Tab key, as a person without a mouse
// does, and returns what fails: an interactive element that Tab never reaches (of a group
// of radio buttons, one must be reached), and an element whose focus does not show. The
// walk ends when the focus leaves the page or comes back to where it began.
func Keyboard(ctx context.Context) ([]string, error) {
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](keyboardSetup))
	if err != nil {
		return nil, err
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](keyboardNames))
	if err != nil {
		return nil, err
	}
	type step struct {
		I     int    `json:"i"`
		Shows bool   `json:"shows"`
		What  string `json:"what"`
	}
	var problems []string
	reached := map[int]bool{}
	first := -1
	for range 4*n + 10 { // a date field takes a Tab per part (day, month, year)
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			return nil, err
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[step](keyboardStep))
		if err != nil {
			return nil, err
		}
		if s.I == -1 || s.I == first {
			break
		}
		if s.I == -2 {
			continue // focusable, but not in the list (for example main with tabindex=-1 after a skip link)
		}
		if first < 0 {
			first = s.I
		}
		if !reached[s.I] && !s.Shows {
			problems = append(problems, "no visible focus on "+names[s.I])
		}
		reached[s.I] = true
	}
	groups := map[string]bool{}
	for i := range n {
		if g := group(names[i]); g != "" && reached[i] {
			groups[g] = true
		}
	}
	for i := range n {
		if reached[i] {
			continue
		}
		if g := group(names[i]); g != "" && groups[g] {
			continue
		}
		problems = append(problems, "Tab never reaches "+names[i])
	}
	return problems, nil
}

// group returns the radio group an element's name ends with, or "".
func group(name string) string {
	if i := strings.LastIndex(name, " radio:"); i >= 0 {
		return name[i+1:]
	}
	return ""
}
