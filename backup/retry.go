package backup

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/skjold-project/skjold"
)

// Retry wraps t so that Put, Get and List are tried up to attempts times, waiting base, 2×base,
// 4×base… (each with up to half of it again as random jitter, so that nodes do not retry in
// step) between tries, as long as ctx lasts [E2]. ENOTFOUND, ctx's own end and permanent
// causes (Classify: full, permission, credentials, host_key, missing) are not retried. Put needs to send the content again: it rewinds r when r is an io.Seeker (such as
// an *os.File), and otherwise first spools r into a temporary file (mode 0600; the content
// is already encrypted). Delete is not retried: rotation runs again.
func Retry(t skjold.Target, attempts int, base time.Duration) skjold.Target {
	if attempts < 1 {
		attempts = 1
	}
	return &retrying{Target: t, attempts: attempts, base: base}
}

type retrying struct {
	skjold.Target
	attempts int
	base     time.Duration
}

// do runs op until it succeeds, fails for good, or the tries or ctx run out.
func (r *retrying) do(ctx context.Context, op func() error) error {
	var err error
	for i := range r.attempts {
		if err = op(); err == nil || skjold.ErrorCode(err) == skjold.ENOTFOUND || ctx.Err() != nil {
			return err
		}
		if _, permanent, _ := Classify(err); permanent {
			return err // a second try meets the same refusal
		}
		if i == r.attempts-1 {
			break
		}
		wait := r.base << i
		wait += time.Duration(rand.Int64N(int64(wait)/2 + 1))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", err, ctx.Err())
		case <-timer.C:
		}
	}
	if r.attempts > 1 {
		return fmt.Errorf("%s: %d tries failed, the last: %w", r.Name(), r.attempts, err)
	}
	return err
}

func (r *retrying) Put(ctx context.Context, name string, body io.Reader) (string, error) {
	f, ok := body.(io.ReadSeeker)
	if !ok {
		tmp, err := spool(body)
		if err != nil {
			return "", err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		f = tmp
	}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", err
	}
	var sum string
	err = r.do(ctx, func() error {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
		var err error
		sum, err = r.Target.Put(ctx, name, f)
		return err
	})
	return sum, err
}

func (r *retrying) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.do(ctx, func() error {
		var err error
		rc, err = r.Target.Get(ctx, name)
		return err
	})
	return rc, err
}

func (r *retrying) List(ctx context.Context) ([]string, error) {
	var names []string
	err := r.do(ctx, func() error {
		var err error
		names, err = r.Target.List(ctx)
		return err
	})
	return names, err
}

// spool copies r into a temporary file that Put can rewind.
func spool(r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "skjold-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil { // Put reads it from the start
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	return f, nil
}
