package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress shows long work on stderr: on a terminal a bar redrawn in place, otherwise a plain
// line every interval, and at the end one summary line. Done and total are bytes (or rows,
// with another unit); total 0 means unknown, and then there is no bar and no ETA.
type progress struct {
	w        io.Writer
	what     string
	unit     string // "bytes", or a countable noun such as "tenant keys"
	tty      bool
	interval time.Duration
	now      func() time.Time

	mu          sync.Mutex
	done, total int64
	start, last time.Time
}

// newProgress returns a progress display for what on e.stderr.
func newProgress(e env, what, unit string) *progress {
	now := time.Now
	p := &progress{w: e.stderr, what: what, unit: unit, tty: isTerminal(e.stderr), interval: 5 * time.Second, now: now}
	p.start, p.last = now(), now()
	if p.tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

// update records how much is done, and redraws at most once an interval.
func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if now := p.now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.draw(now, false)
	}
}

// finish prints the summary line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.now(), true)
}

func (p *progress) draw(now time.Time, final bool) {
	elapsed := now.Sub(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	line := fmt.Sprintf("%s: %s", p.what, p.amount(p.done))
	if p.total > 0 && !final {
		line += " of " + p.amount(p.total)
	}
	line += fmt.Sprintf(", %s/s", p.amount(int64(rate)))
	switch {
	case final:
		line += fmt.Sprintf(", done in %s", elapsed.Round(time.Millisecond))
	case p.total > 0 && rate > 0 && p.done < p.total:
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	bar := ""
	if p.total > 0 {
		const width = 30
		filled := int(min(p.done, p.total) * width / p.total)
		bar = "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "] "
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s%s", bar, line, end)
}

// amount formats n in the display's unit: bytes in kB, MB or GB (powers of 1000).
func (p *progress) amount(n int64) string {
	if p.unit != "bytes" {
		return fmt.Sprintf("%d %s", n, p.unit)
	}
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
