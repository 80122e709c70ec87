package store

import "context"

// Progress receives how many of total rows a long operation has done; it is called from the
// goroutine doing the work and must be quick.
type Progress func(done, total int64)

type progressKey struct{}

// WithProgress returns ctx carrying p: RewrapTenantKeys reports the tenant keys it rewrapped.
func WithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// reportProgress calls ctx's Progress, if it carries one.
func reportProgress(ctx context.Context, done, total int) {
	if p, _ := ctx.Value(progressKey{}).(Progress); p != nil {
		p(int64(done), int64(total))
	}
}
