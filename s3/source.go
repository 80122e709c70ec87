package s3

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// source is what Put sends: a local file section of known size and SHA-256.
type source struct {
	r     *io.SectionReader // seekable and readable at offsets, so the client can resend a part
	size  int64
	sum   string // hex SHA-256
	close func()
}

// open makes a source of r: r itself from its current offset when it is a regular file,
// otherwise a temporary copy, removed by close. An error reading r comes back here, before
// anything is sent.
func open(r io.Reader) (*source, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return openFile(f, func() {})
		}
	}
	tmp, err := os.CreateTemp("", "skjold-s3-upload-*")
	if err != nil {
		return nil, fmt.Errorf("buffer the upload: %w", err)
	}
	remove := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, r); err != nil {
		remove()
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		remove()
		return nil, err
	}
	return openFile(tmp, remove)
}

// openFile hashes f from its current offset to its end.
func openFile(f *os.File, close func()) (*source, error) {
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		close()
		return nil, err
	}
	h := sha256.New()
	size, err := io.Copy(h, io.NewSectionReader(f, start, 1<<62))
	if err != nil {
		close()
		return nil, err
	}
	return &source{
		r:     io.NewSectionReader(f, start, size),
		size:  size,
		sum:   hex.EncodeToString(h.Sum(nil)),
		close: close,
	}, nil
}
