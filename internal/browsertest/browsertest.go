// Package browsertest gives tests one headless Chromium for the whole test binary, started
// on first use and closed by Close from TestMain, and a fresh tab with its own cookies
// (an incognito-like browser context) for each test, so that tests run in parallel on one
// browser. Where no Chromium is installed, tests skip with the marker
// SKJOLD-BROWSER-UNAVAILABLE, which .ci/run treats as a failure.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Unavailable is the marker in the skip message when no browser can be started.
const Unavailable = "SKJOLD-BROWSER-UNAVAILABLE"

var shared struct {
	sync.Mutex
	started bool
	err     error
	ctx     context.Context // the browser's
	cancel  func()
	dir     string
}

// execPath finds Chromium: $SKJOLD_CHROMIUM, else Debian's chromium, else other names.
func execPath() (string, error) {
	if p := os.Getenv("SKJOLD_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium in PATH (Debian: apt install chromium)")
}

// browser returns the shared browser's context, starting it on first use.
func browser() (context.Context, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.started {
		return shared.ctx, shared.err
	}
	shared.started = true
	path, err := execPath()
	if err != nil {
		shared.err = err
		return nil, err
	}
	if shared.dir, err = os.MkdirTemp("", "skjold-chromium-"); err != nil {
		shared.err = err
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(shared.dir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		// Skjold's certificate in the tests is self-signed, made for the throwaway server.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, which lives as long as ctx
		cancelBrowser()
		cancelAlloc()
		shared.err = fmt.Errorf("start %s: %w", path, err)
		return nil, shared.err
	}
	shared.ctx = ctx
	shared.cancel = func() { cancelBrowser(); cancelAlloc() }
	return ctx, nil
}

// Tab returns the context of a new tab in a browser context of its own (its own cookies and
// storage), closed when the test ends. It skips the test, with the Unavailable marker, when
// no browser can be started.
func Tab(t *testing.T) context.Context {
	t.Helper()
	b, err := browser()
	if err != nil {
		t.Skipf("%s: %v", Unavailable, err)
	}
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// Close stops the shared browser, if it was started, and removes its profile. TestMain
// calls it after the tests.
func Close() {
	shared.Lock()
	defer shared.Unlock()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
