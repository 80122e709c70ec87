// Package sftp is a backup target on an SFTP server [E2]: a directory on another host, reached over
// SSH with a private key, the server's host key checked against a known_hosts file.
//
// Every operation opens its own SSH connection and closes it when done, so a server that restarted
// or a network that dropped between two backups costs nothing but the next handshake. Retrying a
// failed operation is the caller's business (see backup.Retry); errors say what failed and come
// back within the configured timeout when the server cannot be reached or stops answering.
package sftp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"github.com/skjold-project/skjold"
	"golang.org/x/crypto/ssh"
)

// DefaultTimeout bounds connecting, the SSH handshake and the wait for an unanswered server.
const DefaultTimeout = 30 * time.Second

// tempPrefix starts the name of an upload in progress. List never returns such names, and Put
// refuses them as object names.
const tempPrefix = ".tmp-"

// Config says where the backups go and how to log in.
type Config struct {
	Addr           string        // host:port of the SSH server; port 22 when omitted
	User           string        // the login name on the server
	KeyFile        string        // path of the client's private key (OpenSSH or PEM format, no passphrase)
	KnownHostsFile string        // path of a known_hosts file listing the server's host key; required
	Dir            string        // the directory on the server that holds the backups; it must exist
	Timeout        time.Duration // DefaultTimeout when zero
}

// Target is an SFTP backup target. It is safe for concurrent use: each call has its own connection.
type Target struct {
	cfg       Config
	signer    ssh.Signer
	hostKeys  ssh.HostKeyCallback
	hostAlgos []string // the host key algorithms known_hosts lists for Addr, so the server offers a key we can check
}

var _ skjold.Target = (*Target)(nil)

// New checks cfg, reads the private key and the known_hosts file, and returns a Target. It does
// not connect. Errors are EINVALID and name the setting or file at fault, never key material.
// The known_hosts file must list a key for Addr: there is no trust on first use.
func New(cfg Config) (*Target, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	t := &Target{cfg: cfg}
	var err error
	if t.signer, err = loadKey(cfg.KeyFile); err != nil {
		return nil, err
	}
	if t.hostKeys, t.hostAlgos, err = loadKnownHosts(cfg.KnownHostsFile, cfg.Addr); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *Config) normalize() error {
	for _, f := range []struct{ name, value string }{
		{"addr", c.Addr}, {"user", c.User}, {"key_file", c.KeyFile},
		{"known_hosts_file", c.KnownHostsFile}, {"dir", c.Dir},
	} {
		if strings.TrimSpace(f.value) == "" {
			return skjold.FieldError(f.name, "required", "sftp: %s is required", f.name)
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		c.Addr = net.JoinHostPort(strings.Trim(c.Addr, "[]"), "22")
	}
	if c.Timeout < 0 {
		return skjold.FieldError("timeout", "positive", "sftp: timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return nil
}

// Name is "sftp:user@host:port:dir"; it holds no secret.
func (t *Target) Name() string {
	return "sftp:" + t.cfg.User + "@" + t.cfg.Addr + ":" + t.cfg.Dir
}

// Put uploads r to a temporary name in Dir, flushes it to the server's disk (where the server
// offers fsync@openssh.com), reads it back to check it holds exactly what was sent, and only then
// renames it to name, replacing an older object of that name. A failed or interrupted upload
// leaves nothing under name; its temporary file is removed when the connection still allows, and
// is never listed. Put returns the hex SHA-256 of the server's copy.
func (t *Target) Put(ctx context.Context, name string, r io.Reader) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	c, err := t.connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.close()
	tmp := t.path(tempPrefix + rand.Text())
	sum, err := c.upload(tmp, r)
	if err == nil {
		err = c.commit(tmp, t.path(name))
	}
	if err != nil {
		c.sftp.Remove(tmp) // best effort: the error below matters more, and List skips temporary names
		return "", t.fail(ctx, c, "put", name, err)
	}
	return sum, nil
}

// upload writes r to tmp (mode 0600), syncs and closes it, and returns the SHA-256 of the server's copy after
// checking that it equals the SHA-256 of what was read from r.
func (c *conn) upload(tmp string, r io.Reader) (string, error) {
	f, err := c.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", err
	}
	// SFTP creates the file with the server's default mode (0644 under a usual umask): make it
	// owner-only, like a local copy, before any byte is written to it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("make the upload owner-only: %w", err)
	}
	sent := sha256.New()
	src := &source{r: io.TeeReader(r, sent)}
	_, err = f.ReadFrom(src)
	if err == nil && c.canSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && src.err == nil {
		return "", c.explainWrite(path.Dir(tmp), err)
	}
	if err != nil {
		return "", err
	}
	held, err := c.checksum(tmp)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if want := hex.EncodeToString(sent.Sum(nil)); held != want {
		return "", fmt.Errorf("the server's copy has SHA-256 %s, but %s was sent", held, want)
	}
	return held, nil
}

// source remembers the error of the reader being uploaded, to tell it from the server's.
type source struct {
	r   io.Reader
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// explainWrite adds the cause SFTP cannot say: its protocol reports a full disk as a mere
// "failure", so the free space of dir is asked for (statvfs@openssh.com) while the partial
// upload still fills it.
func (c *conn) explainWrite(dir string, err error) error {
	if _, ok := c.sftp.HasExtension("statvfs@openssh.com"); !ok {
		return err
	}
	if st, serr := c.sftp.StatVFS(dir); serr == nil && st.Bavail*st.Frsize < diskFullBelow {
		// ENOSPC joined in lets backup.Classify see the cause the protocol could not carry.
		return fmt.Errorf("the server's disk is full (%d bytes free): %w", st.Bavail*st.Frsize, errors.Join(err, syscall.ENOSPC))
	}
	return err
}

// diskFullBelow is the free space under which a failed write is put down to a full disk.
const diskFullBelow = 1 << 20

// commit renames tmp to final atomically. Without the posix-rename@openssh.com extension, plain
// SFTP rename refuses to replace a file, so an older final is removed first.
func (c *conn) commit(tmp, final string) error {
	if c.canPosixRename {
		return c.sftp.PosixRename(tmp, final)
	}
	if err := c.sftp.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.sftp.Rename(tmp, final)
}

// checksum returns the hex SHA-256 of a file on the server.
func (c *conn) checksum(p string) (string, error) {
	f, err := c.sftp.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := f.WriteTo(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Get opens an object for reading. The reader holds its own connection, closed by Close or when
// ctx ends. Errors: ENOTFOUND.
func (t *Target) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	c, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	f, err := c.sftp.Open(t.path(name))
	if err != nil {
		c.close()
		return nil, t.fail(ctx, c, "get", name, err)
	}
	return &reader{File: f, c: c}, nil
}

// reader is an object being read; closing it closes the file and the connection.
type reader struct {
	*sftp.File
	c *conn
}

func (r *reader) Close() error {
	err := r.File.Close()
	r.c.close()
	return err
}

// List returns the names of the regular files in Dir, sorted, without temporary uploads.
func (t *Target) List(ctx context.Context) ([]string, error) {
	c, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	infos, err := c.sftp.ReadDirContext(ctx, t.cfg.Dir)
	if err != nil {
		return nil, t.fail(ctx, c, "list", "", err)
	}
	names := []string{}
	for _, fi := range infos {
		if fi.Mode().IsRegular() && !strings.HasPrefix(fi.Name(), ".") {
			names = append(names, fi.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Delete removes an object; a missing one is not an error.
func (t *Target) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	c, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.sftp.Remove(t.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return t.fail(ctx, c, "delete", name, err)
	}
	return nil
}

func (t *Target) path(name string) string { return path.Join(t.cfg.Dir, name) }

// checkName refuses names that are not plain file names, and the names of temporary uploads.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return skjold.Errorf(skjold.EINVALID, "sftp: %q is not a plain file name", name)
	}
	if strings.HasPrefix(name, ".") {
		return skjold.Errorf(skjold.EINVALID, "sftp: object names may not start with a dot: %q", name)
	}
	return nil
}

// fail turns an error from an operation on c into one that says which target, operation and
// object failed, and why in words an operator can act on.
func (t *Target) fail(ctx context.Context, c *conn, op, name string, err error) error {
	what := op
	if name != "" {
		what += " " + name
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) && op == "get":
		return skjold.Errorf(skjold.ENOTFOUND, "%s: no object %s", t.Name(), name)
	case errors.Is(err, fs.ErrNotExist) && op == "list":
		return fmt.Errorf("%s: list: directory %s does not exist on the server: %w", t.Name(), t.cfg.Dir, err)
	case c.stalled():
		return fmt.Errorf("%s: %s: the server stopped answering for %s: %w", t.Name(), what, t.cfg.Timeout, os.ErrDeadlineExceeded)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %s: %w", t.Name(), what, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %s: %w", t.Name(), what, err)
}
