package backup

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Cause is what an operator has to do something about when a backup target fails. It is a
// short word fit for a metric label and an alert.
type Cause string

const (
	CauseFull        Cause = "full"        // no space left on the target
	CausePermission  Cause = "permission"  // the target refuses the account the rights it needs
	CauseCredentials Cause = "credentials" // the target refuses the account itself
	CauseHostKey     Cause = "host_key"    // the SFTP server's host key is not the known one
	CauseMissing     Cause = "missing"     // the bucket or directory does not exist
	CauseUnreachable Cause = "unreachable" // no connection, no answer in time, connection dropped
	CauseServer      Cause = "server"      // the target answered with a server error (S3 5xx)
	CauseUnknown     Cause = "unknown"     // none of the above
)

// causes is the one table of causes: Classify tries the rows in order and the first that
// matches wins. Permanent causes are not retried: a second try meets the same refusal.
var causes = []struct {
	cause     Cause
	permanent bool
	words     string // what the operator reads after "backup target X: "
	match     func(err error) bool
}{
	{CauseHostKey, true, "the server's host key does not match the known one", isHostKey},
	{CauseFull, true, "the disk is full", isFull},
	{CauseCredentials, true, "the target refused the login or access key", isCredentials},
	{CausePermission, true, "the target denied permission", isPermission},
	{CauseMissing, true, "the bucket or directory does not exist", isMissing},
	{CauseServer, false, "the target answered with a server error", isServer},
	{CauseUnreachable, false, "the target cannot be reached", isUnreachable},
}

// Causes lists every cause Classify can give, CauseUnknown last.
func Causes() []Cause {
	out := make([]Cause, 0, len(causes)+1)
	for _, c := range causes {
		out = append(out, c.cause)
	}
	return append(out, CauseUnknown)
}

// Classify names the cause of a target error, whether retrying can help, and the cause in
// plain words. An error that matches no row is CauseUnknown and transient (retried, as
// before causes were known).
func Classify(err error) (cause Cause, permanent bool, words string) {
	if err == nil {
		return "", false, ""
	}
	for _, c := range causes {
		if c.match(err) {
			return c.cause, c.permanent, c.words
		}
	}
	return CauseUnknown, false, "the target failed"
}

func s3Code(err error) (string, int) {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r.Code, r.StatusCode
	}
	var rp *minio.ErrorResponse
	if errors.As(err, &rp) && rp != nil {
		return rp.Code, rp.StatusCode
	}
	return "", 0
}

func sftpCode(err error) (uint32, bool) {
	var s *sftp.StatusError
	if errors.As(err, &s) {
		return s.Code, true
	}
	return 0, false
}

func isHostKey(err error) bool {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	return errors.As(err, &keyErr) || errors.As(err, &revoked)
}

func isFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	code, _ := s3Code(err)
	return code == "EntityTooLarge" || code == "QuotaExceeded"
}

func isCredentials(err error) bool {
	switch code, _ := s3Code(err); code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return true
	}
	// golang.org/x/crypto/ssh reports a refused login only as text.
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}

func isPermission(err error) bool {
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission) {
		return true
	}
	if code, ok := sftpCode(err); ok && code == 3 { // SSH_FX_PERMISSION_DENIED
		return true
	}
	code, _ := s3Code(err)
	return code == "AccessDenied"
}

func isMissing(err error) bool {
	if code, _ := s3Code(err); code == minio.NoSuchBucket {
		return true
	}
	// A missing file is ENOTFOUND and never reaches Classify from a Get; a missing directory
	// does (a Put or List into it).
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrNotExist) {
		return true
	}
	code, ok := sftpCode(err)
	return ok && code == 2 // SSH_FX_NO_SUCH_FILE
}

func isServer(err error) bool {
	_, status := s3Code(err)
	return status >= 500
}

func isUnreachable(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) ||
		isSFTPConnection(err)
}

// isSFTPConnection: the server reported no connection or a lost one.
func isSFTPConnection(err error) bool {
	code, ok := sftpCode(err)
	return ok && (code == 6 || code == 7) // SSH_FX_NO_CONNECTION, SSH_FX_CONNECTION_LOST
}

// TargetError is one target's failure to take a backup, with its cause. Its message names the
// target and the cause in plain words, then the detail.
type TargetError struct {
	Target string
	Cause  Cause
	Words  string
	Err    error
}

func newTargetError(target string, err error) *TargetError {
	var te *TargetError
	if errors.As(err, &te) {
		return te
	}
	cause, _, words := Classify(err)
	return &TargetError{Target: target, Cause: cause, Words: words, Err: err}
}

// Short is the message without the detail: "backup target sftp:h/b: the disk is full".
func (e *TargetError) Short() string { return "backup target " + e.Target + ": " + e.Words }

func (e *TargetError) Error() string { return e.Short() + ": " + e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// targetErrors lists the TargetErrors in err (an errors.Join tree, wrapped or not).
func targetErrors(err error) []*TargetError {
	var out []*TargetError
	var walk func(error)
	walk = func(err error) {
		if te, ok := err.(*TargetError); ok {
			out = append(out, te)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// shortList joins the short messages of tes with "; ".
func shortList(tes []*TargetError) string {
	s := make([]string, len(tes))
	for i, te := range tes {
		s[i] = te.Short()
	}
	return strings.Join(s, "; ")
}
