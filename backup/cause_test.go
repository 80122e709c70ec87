package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestClassify(t *testing.T) {
	// A real refused dial: listen, close, dial the freed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, dialErr := net.Dial("tcp", addr)
	if dialErr == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	// A real missing directory from the file system.
	_, missingDir := os.Create(filepath.Join(t.TempDir(), "no-such-dir", "f"))

	cases := []struct {
		name      string
		err       error
		cause     Cause
		permanent bool
	}{
		{"local ENOSPC", fmt.Errorf("local:/b: put x: %w", &fs.PathError{Op: "write", Path: "/b/x", Err: syscall.ENOSPC}), CauseFull, true},
		{"sftp disk is full", fmt.Errorf("sftp:h: put x: the server's disk is full (0 bytes free): %w",
			errors.Join(&sftp.StatusError{Code: 4}, syscall.ENOSPC)), CauseFull, true},
		{"s3 EntityTooLarge", fmt.Errorf("s3:b: put x: %w", minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: 400}), CauseFull, true},
		{"s3 QuotaExceeded", fmt.Errorf("s3:b: put x: %w", minio.ErrorResponse{Code: "QuotaExceeded", StatusCode: 403}), CauseFull, true},
		{"local EACCES", fmt.Errorf("local:/b: %w", &fs.PathError{Op: "open", Path: "/b/x", Err: syscall.EACCES}), CausePermission, true},
		{"local EPERM", fmt.Errorf("local:/b: %w", &fs.PathError{Op: "chmod", Path: "/b/x", Err: syscall.EPERM}), CausePermission, true},
		{"sftp permission denied", fmt.Errorf("sftp:h: put x: %w", &sftp.StatusError{Code: 3}), CausePermission, true},
		{"s3 AccessDenied", fmt.Errorf("s3:b: put x: %w", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}), CausePermission, true},
		{"ssh auth", fmt.Errorf("sftp:h: connect as u: %w", errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain")), CauseCredentials, true},
		{"s3 InvalidAccessKeyId", fmt.Errorf("s3:b: list: %w", minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403}), CauseCredentials, true},
		{"s3 SignatureDoesNotMatch", fmt.Errorf("s3:b: list: %w", minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403}), CauseCredentials, true},
		{"host key mismatch", fmt.Errorf("sftp:h: REFUSED: %w", &knownhosts.KeyError{Want: []knownhosts.KnownKey{{Filename: "known_hosts", Line: 1}}}), CauseHostKey, true},
		{"s3 NoSuchBucket", fmt.Errorf("s3:b: put x: %w", minio.ErrorResponse{Code: minio.NoSuchBucket, StatusCode: 404}), CauseMissing, true},
		{"directory missing", fmt.Errorf("local:/b: put x: %w", missingDir), CauseMissing, true},
		{"dial refused", fmt.Errorf("sftp:h: cannot reach the server: %w", dialErr), CauseUnreachable, false},
		{"connection reset", fmt.Errorf("s3:b: put x: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), CauseUnreachable, false},
		{"timeout", fmt.Errorf("s3:b: put x: %w", os.ErrDeadlineExceeded), CauseUnreachable, false},
		{"sftp connection lost", fmt.Errorf("sftp:h: put x: %w", sftp.ErrSSHFxConnectionLost), CauseUnreachable, false},
		{"s3 5xx", fmt.Errorf("s3:b: put x: %w", minio.ErrorResponse{Code: "InternalError", StatusCode: http.StatusInternalServerError}), CauseServer, false},
		{"unknown", errDown, CauseUnknown, false},
	}
	for _, c := range cases {
		cause, permanent, words := Classify(c.err)
		if cause != c.cause || permanent != c.permanent || words == "" {
			t.Errorf("%s: Classify(%v) = %q, permanent %v, %q; want %q, permanent %v", c.name, c.err, cause, permanent, words, c.cause, c.permanent)
		}
	}
	if cause, _, _ := Classify(nil); cause != "" {
		t.Errorf("Classify(nil) = %q", cause)
	}
}
