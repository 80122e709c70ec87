package backup

import (
	"context"
	"io"
)

// Progress receives how many bytes a backup has sealed, or a restore has read, of total (0
// when the total is unknown). It is called from the goroutine doing the work, often: it must
// be quick (the command line's progress display only stores the numbers).
type Progress func(done, total int64)

type progressKey struct{}

// WithProgress returns ctx carrying p: Backuper.Run and Restore report to it.
func WithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

func progressFrom(ctx context.Context) Progress {
	p, _ := ctx.Value(progressKey{}).(Progress)
	return p
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r           io.Reader
	done, total int64
	report      Progress
}

// withProgress wraps r to report to ctx's Progress, if it carries one.
func withProgress(ctx context.Context, r io.Reader, total int64) io.Reader {
	p := progressFrom(ctx)
	if p == nil {
		return r
	}
	return &progressReader{r: r, total: total, report: p}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.report(p.done, p.total)
	return n, err
}
