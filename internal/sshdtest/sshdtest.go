// Package sshdtest gives tests a real OpenSSH server: sshd started from a throwaway configuration
// on a free loopback port, with a fresh host key, one authorized client key, and the internal SFTP
// server. The test logs in as the user it runs as.
//
//	func TestUpload(t *testing.T) {
//		srv := sshdtest.Start(t)
//		// srv.Addr, srv.User, srv.KeyFile, srv.KnownHostsFile, srv.Dir
//	}
package sshdtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SkipMarker is printed in the skip message when sshd could not be found; .ci/run fails when it sees it.
const SkipMarker = "SKJOLD-SSHD-UNAVAILABLE"

const (
	startTimeout  = 10 * time.Second
	startAttempts = 3
	privsepDir    = "/run/sshd" // sshd running as root insists on it; the Debian service creates it at boot
)

// Server is a running sshd. Its files live in a temporary directory removed after the test.
type Server struct {
	Addr           string        // 127.0.0.1:port
	User           string        // the login name: the user running the test
	KeyFile        string        // the client's private key (ed25519, OpenSSH format, no passphrase)
	KnownHostsFile string        // lists HostKey for Addr
	HostKey        ssh.PublicKey // the server's host key
	Dir            string        // an empty directory for the test's files, writable by User

	dir    string
	cmd    *exec.Cmd
	exited chan error // receives sshd's exit
	log    *syncBuffer
}

// Start starts sshd for t and stops it in t.Cleanup. It skips t with SkipMarker when no sshd is
// installed, and fails t when sshd is there but does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	sshd, err := lookSSHD()
	if err != nil {
		t.Skipf("%s: no OpenSSH server for this test (install openssh-server): %v", SkipMarker, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	s := &Server{User: u.Username, dir: t.TempDir(), log: &syncBuffer{}}
	s.Dir = filepath.Join(s.dir, "files")
	if err := s.prepare(); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	if err := s.start(sshd); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	return s
}

func lookSSHD() (string, error) {
	if p, err := exec.LookPath("sshd"); err == nil {
		return filepath.Abs(p) // sshd must be started by its absolute path
	}
	const debian = "/usr/sbin/sshd" // /usr/sbin is often not on a non-root PATH
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("sshd is not on PATH nor at %s", debian)
	}
	return debian, nil
}

// prepare writes the host key, the client key, authorized_keys and known_hosts (the latter once
// the port is known), and makes the directories sshd needs.
func (s *Server) prepare() error {
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll(privsepDir, 0o755); err != nil {
			return fmt.Errorf("sshd needs %s: %w", privsepDir, err)
		}
	}
	hostPub, err := writeKey(filepath.Join(s.dir, "host_ed25519"))
	if err != nil {
		return err
	}
	if s.HostKey, err = ssh.NewPublicKey(hostPub); err != nil {
		return err
	}
	s.KeyFile = filepath.Join(s.dir, "client_ed25519")
	clientPub, err := writeKey(s.KeyFile)
	if err != nil {
		return err
	}
	authorized, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(authorized), 0o600)
}

// writeKey generates an ed25519 key, writes its private half to file in OpenSSH format, and
// returns the public half.
func writeKey(file string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "skjold-test")
	if err != nil {
		return nil, err
	}
	return pub, os.WriteFile(file, pem.EncodeToMemory(block), 0o600)
}

// start runs sshd on a free port, trying another when the chosen one was taken meanwhile.
func (s *Server) start(sshd string) error {
	var err error
	for range startAttempts {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		if err = s.startOn(sshd, port); err == nil || !strings.Contains(s.log.String(), "Address already in use") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w\nsshd log:\n%s", err, s.log.String())
	}
	s.KnownHostsFile = filepath.Join(s.dir, "known_hosts")
	return os.WriteFile(s.KnownHostsFile, []byte(knownhosts.Line([]string{s.Addr}, s.HostKey)+"\n"), 0o600)
}

func (s *Server) startOn(sshd string, port int) error {
	s.Addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	conf := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(s.config(port)), 0o600); err != nil {
		return err
	}
	s.log.Reset()
	s.cmd = exec.Command(sshd, "-D", "-e", "-f", conf)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", sshd, err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	if err := s.awaitBanner(s.exited); err != nil {
		s.cmd.Process.Kill()
		<-s.exited
		return err
	}
	return nil
}

func (s *Server) config(port int) string {
	return strings.Join([]string{
		fmt.Sprintf("Port %d", port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(s.dir, "host_ed25519"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
}

// awaitBanner waits until sshd answers on its port with an SSH banner.
func (s *Server) awaitBanner(exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited at start: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, "SSH-2.0-") {
			return nil
		}
	}
	return errors.New("sshd did not answer within " + startTimeout.String())
}

// stop ends the sshd this Server started; sessions still open end with their connections.
func (s *Server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Log returns what sshd has logged so far.
func (s *Server) Log() string { return s.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe for sshd's output and the test reading it at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}
