package sftp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"github.com/skjold-project/skjold"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// conn is one SSH connection with its SFTP session, open for the length of one operation.
type conn struct {
	net  net.Conn
	ssh  *ssh.Client
	sftp *sftp.Client

	canSync        bool // the server offers fsync@openssh.com
	canPosixRename bool // the server offers posix-rename@openssh.com

	done      chan struct{}
	closeOnce sync.Once
	stopCtx   func() bool // unregisters the close on ctx's end
	timedOut  atomic.Bool // the keepalive gave up on the server
}

// connect dials the server, checks its host key, logs in and starts SFTP, all within the
// timeout. The connection is closed when ctx ends, and when the server leaves a keepalive
// unanswered for the timeout.
func (t *Target) connect(ctx context.Context) (*conn, error) {
	timeout := t.cfg.Timeout
	d := net.Dialer{Timeout: timeout, KeepAlive: timeout}
	nc, err := d.DialContext(ctx, "tcp", t.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot reach the server: %w", t.Name(), err)
	}
	c := &conn{net: nc, done: make(chan struct{})}
	c.stopCtx = context.AfterFunc(ctx, func() { nc.Close() })
	deadline := time.Now().Add(timeout)
	nc.SetDeadline(deadline) // for the handshake and the SFTP start, which take no ctx
	if err := c.start(t); err != nil {
		c.close()
		if time.Now().After(deadline) {
			// The SFTP library reports the deadline as an unexpected EOF.
			err = os.ErrDeadlineExceeded
		}
		return nil, t.connectError(ctx, err)
	}
	nc.SetDeadline(time.Time{})
	go c.keepalive(timeout)
	return c, nil
}

func (c *conn) start(t *Target) error {
	sc, chans, reqs, err := ssh.NewClientConn(c.net, t.cfg.Addr, &ssh.ClientConfig{
		User:              t.cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(t.signer)},
		HostKeyCallback:   t.hostKeys,
		HostKeyAlgorithms: t.hostAlgos,
	})
	if err != nil {
		return err
	}
	c.ssh = ssh.NewClient(sc, chans, reqs)
	// Sixteen 32 KiB requests in flight keep a distant link busy; the library's default of 64
	// was several times slower on loopback for the first megabytes of each connection.
	c.sftp, err = sftp.NewClient(c.ssh, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(16))
	if err != nil {
		return fmt.Errorf("start the SFTP subsystem: %w", err)
	}
	data, ok := c.sftp.HasExtension("fsync@openssh.com")
	c.canSync = ok && data == "1"
	_, c.canPosixRename = c.sftp.HasExtension("posix-rename@openssh.com")
	return nil
}

// connectError explains a failed handshake or login.
func (t *Target) connectError(ctx context.Context, err error) error {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	var netErr net.Error
	switch {
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		return fmt.Errorf("%s: REFUSED: the server's host key does not match the one in %s; "+
			"someone may be intercepting the connection, or the server's key was changed: %w", t.Name(), t.cfg.KnownHostsFile, keyErr)
	case errors.As(err, &keyErr):
		return fmt.Errorf("%s: REFUSED: the server's host key is not listed in %s: %w", t.Name(), t.cfg.KnownHostsFile, keyErr)
	case errors.As(err, &revoked):
		return fmt.Errorf("%s: REFUSED: the server's host key is marked revoked in %s: %w", t.Name(), t.cfg.KnownHostsFile, revoked)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: connect: %w", t.Name(), context.Cause(ctx))
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%s: the server did not complete the SSH handshake and SFTP start within %s: %w", t.Name(), t.cfg.Timeout, err)
	}
	return fmt.Errorf("%s: connect as %s: %w", t.Name(), t.cfg.User, err)
}

// keepalive asks the server for a reply every half timeout, and closes the connection when one
// does not come within the timeout: an operation blocked on a vanished server then fails.
func (c *conn) keepalive(timeout time.Duration) {
	tick := time.NewTicker(max(timeout/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-c.done:
			return
		case err := <-reply:
			if err != nil {
				return // the connection is gone; the operation sees why
			}
		case <-time.After(timeout):
			c.timedOut.Store(true)
			c.net.Close()
			return
		}
	}
}

// stalled reports whether the keepalive closed the connection.
func (c *conn) stalled() bool { return c.timedOut.Load() }

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.stopCtx()
		if c.sftp != nil {
			c.sftp.Close()
		}
		if c.ssh != nil {
			c.ssh.Close()
		}
		c.net.Close()
	})
}

// loadKey reads an unencrypted private key. Its errors name the file, never its content.
func loadKey(file string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, skjold.Errorf(skjold.EINVALID, "sftp: key_file: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, skjold.Errorf(skjold.EINVALID, "sftp: key_file %s is protected by a passphrase; use a key without one, readable only by skjold", file)
	case err != nil:
		return nil, skjold.Errorf(skjold.EINVALID, "sftp: key_file %s does not hold an OpenSSH or PEM private key", file)
	}
	return signer, nil
}

// loadKnownHosts reads a known_hosts file and returns its host key check, and the host key
// algorithms it lists for addr. It refuses a file that lists no key for addr.
func loadKnownHosts(file, addr string) (ssh.HostKeyCallback, []string, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, skjold.Errorf(skjold.EINVALID, "sftp: known_hosts_file: %v", err)
	}
	// Asking about a key the file cannot hold makes the check list the keys it does hold for addr.
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	var keyErr *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil, nil, skjold.Errorf(skjold.EINVALID,
			"sftp: known_hosts_file %s lists no host key for %s (fetch it with ssh-keyscan and compare its fingerprint with the server's)",
			file, knownhosts.Normalize(addr))
	}
	var algos []string
	for _, k := range keyErr.Want {
		algos = append(algos, algorithmsFor(k.Key.Type())...)
	}
	return cb, algos, nil
}

// algorithmsFor returns the signature algorithms a host key of the given type can be checked with.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}
