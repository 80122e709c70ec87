package pgtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestNewDatabase(t *testing.T) {
	srv := Require(t)

	var name string
	t.Run("use", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		conn := connect(t, dsn)
		ctx := t.Context()

		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if u, err := url.Parse(dsn); err != nil || u.Path != "/"+name {
			t.Fatalf("DSN %q does not name database %q (parse error: %v)", dsn, name, err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO note (id, body) VALUES ($1, $2)", 1, "hello"); err != nil {
			t.Fatal(err)
		}
		var body string
		if err := conn.QueryRow(ctx, "SELECT body FROM note WHERE id = $1", 1).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if body != "hello" {
			t.Errorf("body = %q, want %q", body, "hello")
		}
	})
	if name == "" {
		t.Fatal("the sub-test did not get as far as naming its database")
	}

	var exists bool
	admin := connect(t, srv.adminDSN)
	err := admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after the sub-test's cleanup", name)
	}
}

func TestNewDatabaseIsFresh(t *testing.T) {
	srv := Require(t)
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the DSN %q", a)
	}
	if _, err := connect(t, a).Exec(t.Context(), "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	err := connect(t, b).QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("a table created in one database is visible in another")
	}
}

func TestStartWithoutInitdb(t *testing.T) {
	t.Setenv(envDSN, "")
	t.Setenv("PATH", t.TempDir())
	s, err := Start()
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded with no initdb on PATH")
	}
	if !strings.Contains(err.Error(), "initdb not found") {
		t.Errorf("error %q does not say initdb is missing", err)
	}
}

func TestStartRefusesKeywordDSN(t *testing.T) {
	t.Setenv(envDSN, "host=127.0.0.1 password=secret")
	_, err := Start()
	if err == nil {
		t.Fatal("Start accepted a keyword/value DSN")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q repeats the password", err)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
