// Package pgtest gives tests a real PostgreSQL database: the server named by
// SKJOLD_TEST_POSTGRES_DSN, or a throwaway one started with initdb and pg_ctl in a temporary
// directory and listening on a free loopback port.
//
// A package that needs PostgreSQL calls Main from its TestMain and Require from each test:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSubjects(t *testing.T) {
//		dsn := pgtest.Require(t).NewDatabase(t)
//		…
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SkipMarker is printed in the skip message when no PostgreSQL could be had; .ci/run fails when it sees it.
const SkipMarker = "SKJOLD-POSTGRES-UNAVAILABLE"

const (
	envDSN  = "SKJOLD_TEST_POSTGRES_DSN"
	envFast = "SKJOLD_TEST_POSTGRES_FAST"

	dirPrefix = "skjold-pgtest-"
	ownerFile = "owner.pid" // the pid of the test process that started the server

	initdbTimeout = 2 * time.Minute
	serverTimeout = 30 * time.Second // for pg_ctl start and stop, and for the first connection
	queryTimeout  = 30 * time.Second
	startAttempts = 3
)

// errPortTaken reports that another process bound the chosen port before the server could.
var errPortTaken = errors.New("pgtest: port taken")

// Server is a PostgreSQL server for tests: either the one named by SKJOLD_TEST_POSTGRES_DSN, or a
// throwaway one started with initdb/pg_ctl in a temporary directory on a free loopback port.
type Server struct {
	adminDSN string     // postgres:// URL of the database used to create and drop test databases
	dir      string     // the throwaway server's directory; "" for an external server
	pgCtl    string     // path of pg_ctl
	runAs    *user.User // whom to run PostgreSQL's programs as when we are root; nil otherwise
	runuser  string     // path of runuser, when runAs is set

	stopOnce sync.Once
	stopErr  error
}

// Start returns a Server. If SKJOLD_TEST_POSTGRES_DSN is set, that server is used as is and Stop
// leaves it alone. Otherwise a throwaway server is started: initdb (as the postgres user when
// running as root) into a fresh temporary directory, trust authentication on 127.0.0.1 only, unix
// sockets in that directory. SKJOLD_TEST_POSTGRES_FAST=1 turns off fsync and its kin.
// Start returns once the server accepts connections, or an error saying what failed.
func Start() (*Server, error) {
	if dsn := os.Getenv(envDSN); dsn != "" {
		return external(dsn)
	}
	return throwaway()
}

func external(dsn string) (*Server, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The DSN may hold a password, so it is not repeated here.
		return nil, fmt.Errorf("pgtest: %s must be a postgres:// URL", envDSN)
	}
	s := &Server{adminDSN: dsn}
	if err := s.ping(serverTimeout); err != nil {
		return nil, fmt.Errorf("pgtest: cannot connect to the server named by %s: %w", envDSN, err)
	}
	return s, nil
}

func throwaway() (*Server, error) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return nil, fmt.Errorf("pgtest: initdb not found on PATH (install the PostgreSQL server or set %s): %w", envDSN, err)
	}
	s := &Server{}
	if s.pgCtl, err = exec.LookPath("pg_ctl"); err != nil {
		return nil, fmt.Errorf("pgtest: pg_ctl not found on PATH: %w", err)
	}
	if os.Geteuid() == 0 {
		// initdb and pg_ctl refuse to run as root.
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("pgtest: running as root, and there is no postgres user to run initdb as: %w", err)
		}
		if s.runuser, err = exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("pgtest: running as root, and runuser is not on PATH: %w", err)
		}
	}
	base := os.TempDir()
	if s.runAs != nil {
		base = "/tmp" // TMPDIR may lie under a directory the postgres user cannot enter
	}
	s.sweep(base)
	if err := s.makeDir(base); err != nil {
		return nil, err
	}
	if err := s.initdb(initdb); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// makeDir creates the server's directory in base, owned by the user who runs the server.
func (s *Server) makeDir(base string) error {
	dir, err := os.MkdirTemp(base, dirPrefix+"*")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	err = os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if err == nil && s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		err = os.Chown(dir, uid, gid)
	}
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func (s *Server) initdb(initdb string) error {
	args := []string{"-D", s.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if fast() {
		args = append(args, "--no-sync")
	}
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	if out, err := s.command(ctx, initdb, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb failed: %w\n%s", err, out)
	}
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(s.dataDir(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n",
		strings.ReplaceAll(s.dir, "'", "''"))
	if fast() {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// start starts the server on a free port, trying another port if the chosen one was taken
// between our probe and the server's bind.
func (s *Server) start() error {
	var err error
	for range startAttempts {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		if err = s.startOn(port); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

func (s *Server) startOn(port int) error {
	logFile := filepath.Join(s.dir, "postgres.log")
	os.Remove(logFile) // pg_ctl appends; keep only this attempt's lines
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout+10*time.Second)
	defer cancel()
	out, err := s.command(ctx, s.pgCtl, "start", "-w", "-t", seconds(serverTimeout),
		"-D", s.dataDir(), "-l", logFile, "-o", "-p "+strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		s.pgCtlStop("immediate") // pg_ctl may have given up on a server that is still coming up
		log, _ := os.ReadFile(logFile)
		if strings.Contains(string(log), "Address already in use") {
			return fmt.Errorf("%w: %d", errPortTaken, port)
		}
		return fmt.Errorf("pgtest: pg_ctl start failed: %w\n%s\nserver log:\n%s", err, out, log)
	}
	s.adminDSN = (&url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}).String()
	if err := s.ping(serverTimeout); err != nil {
		s.pgCtlStop("immediate")
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("pgtest: server started but refuses connections: %w\nserver log:\n%s", err, log)
	}
	return nil
}

// Stop stops a throwaway server (pg_ctl stop -m fast) and removes its directory; no-op for an external DSN.
func (s *Server) Stop() error {
	if s.dir == "" {
		return nil
	}
	s.stopOnce.Do(func() {
		err := s.pgCtlStop("fast")
		if err != nil {
			s.pgCtlStop("immediate")
		}
		s.stopErr = errors.Join(err, os.RemoveAll(s.dir))
	})
	return s.stopErr
}

func (s *Server) pgCtlStop(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout+10*time.Second)
	defer cancel()
	out, err := s.command(ctx, s.pgCtl, "stop", "-w", "-t", seconds(serverTimeout),
		"-D", s.dataDir(), "-m", mode).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Halt stops a throwaway server (pg_ctl stop -m fast: sessions are ended) without removing
// it, so that a test can see what PostgreSQL's clients do while it is gone; Resume starts it
// again on the same port with the same data. An external server cannot be halted.
func (s *Server) Halt() error {
	if s.dir == "" {
		return fmt.Errorf("pgtest: the server named by %s cannot be halted", envDSN)
	}
	return s.pgCtlStop("fast")
}

// Resume starts a server that Halt stopped, on its former port.
func (s *Server) Resume() error {
	u, err := url.Parse(s.adminDSN)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return s.startOn(port)
}

// NewDatabase creates a fresh, empty database with a random name on the server, registers t.Cleanup to
// drop it (WITH (FORCE)), and returns its DSN (a postgres:// URL usable by pgx).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "skjold_test_" + strings.ToLower(rand.Text())
	ident := pgx.Identifier{name}.Sanitize()
	if err := s.exec("CREATE DATABASE " + ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.exec("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.adminDSN)
	if err != nil {
		t.Fatalf("pgtest: %v", err) // Start checked the DSN, so this is a bug here
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// exec runs one statement on its own admin connection, so that parallel tests need no lock.
func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// ping connects to the admin database until it succeeds or timeout passes.
func (s *Server) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.adminDSN)
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sweep stops and removes throwaway servers in base whose test process died without calling
// Stop: a panic or a -timeout ends the process before deferred calls run.
func (s *Server) sweep(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours to judge, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(pid) {
			continue
		}
		stale := &Server{dir: dir, pgCtl: s.pgCtl, runAs: s.runAs, runuser: s.runuser}
		if _, err := os.Stat(stale.dataDir()); err == nil {
			stale.pgCtlStop("immediate")
		}
		os.RemoveAll(dir)
	}
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// command runs a PostgreSQL program, as the postgres user when we are root.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if s.runAs != nil {
		args = append([]string{"-u", s.runAs.Username, "--", name}, args...)
		name = s.runuser
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir                            // our working directory may be closed to the postgres user
	cmd.Env = append(os.Environ(), "LC_ALL=C") // the server log is searched for an English message
	cmd.WaitDelay = 5 * time.Second            // a stray child holding the output pipe must not hang us
	return cmd
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func fast() bool { return os.Getenv(envFast) == "1" }

func seconds(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the server of this test binary, started by the first Require after Main.
var shared struct {
	sync.Mutex
	inMain  bool
	started bool
	server  *Server
	err     error // why no server could be had
}

// Main is a helper for TestMain in packages that need PostgreSQL: it runs m.Run(), stops the
// server, and returns the exit code. The server is started by the first test that calls Require,
// so a run that selects no PostgreSQL test does not pay for initdb. When no server could be had,
// Require skips with SkipMarker and the reason; the other tests (SQLite's) still run.
func Main(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()

	code := m.Run()

	shared.Lock()
	defer shared.Unlock()
	if shared.server != nil {
		if err := shared.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Require returns the shared Server started for this test binary, or calls t.Skip with
// SkipMarker and the reason no server could be had. It fails the test if TestMain does not call Main.
func Require(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.inMain {
		t.Fatal("pgtest: Require needs TestMain to call pgtest.Main, which stops the server")
	}
	if !shared.started {
		shared.started = true
		shared.server, shared.err = Start()
	}
	if shared.err != nil {
		t.Skipf("%s: no PostgreSQL for this test: %v", SkipMarker, shared.err)
	}
	return shared.server
}
