package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skjold-project/skjold"
	skjoldhttp "github.com/skjold-project/skjold/http"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 20 * time.Second

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "Run the HTTPS API server. On first start it creates the data directory with the\n"+
		"SQLite database, the master key, a self-signed certificate and a bootstrap operator token.")
	load := configFlags(fs, e.getenv)
	printConfig := fs.Bool("print-config", false, "print the effective configuration (without secrets) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *printConfig {
		fmt.Fprint(e.stdout, cfg.printable())
		return nil
	}
	log := newLogger(e.stderr, cfg.logLevel())
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ring, err := openKeys(cfg, true)
	if err != nil {
		return err
	}
	auth, err := authOptions(cfg)
	if err != nil {
		return err
	}
	var db *store.DB
	metrics := skjoldhttp.NewMetrics(version, func(ctx context.Context) (int64, error) { return db.AuditLength(ctx) })
	db, err = store.Open(ctx, cfg.dsn(), store.Options{Keys: keys.NewService(ring), Logger: log.With("component", "store"),
		Observe: metrics.ObserveStore, Auth: auth})
	if err != nil {
		return err
	}
	defer db.Close() // after the HTTP server has stopped: the writer commits what is queued
	if err := bootstrap(ctx, e, cfg, db); err != nil {
		return err
	}
	if err := bootstrapOwner(ctx, e, cfg, db); err != nil {
		return err
	}
	return serveHTTPS(ctx, e, cfg, log, db, metrics)
}

// bootstrap makes the first operator token on a database that never had one, prints it
// once and writes it to <data>/initial-operator-token (mode 0600) for scripts.
func bootstrap(ctx context.Context, e env, cfg Config, db *store.DB) error {
	n, err := db.CountOperatorTokensEver(ctx)
	if err != nil || n > 0 {
		return err
	}
	tok := &skjold.Token{Operator: true, Name: "bootstrap"}
	if err := db.CreateToken(cliContext(ctx), tok); err != nil {
		return fmt.Errorf("create bootstrap operator token: %w", err)
	}
	path := filepath.Join(cfg.Data, "initial-operator-token")
	if err := writeFileAtomic(path, []byte(tok.Secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(e.stderr, "\n*************************************************************\n"+
		"Skjold created a bootstrap operator API token. It is shown only this once:\n\n    %s\n\n"+
		"It is also in %s (mode 0600).\n"+
		"Use it to create tenants; revoke it once you have your own operator tokens.\n"+
		"*************************************************************\n\n", tok.Secret, path)
	return nil
}

func serveHTTPS(ctx context.Context, e env, cfg Config, log *slog.Logger, db *store.DB, metrics *skjoldhttp.Metrics) error {
	cert, selfSigned, err := loadCertificate(cfg, time.Now())
	if err != nil {
		return err
	}
	svc := skjoldhttp.Services{Tenants: db, Tokens: db, Subjects: db, Records: db, Categories: db, Audit: db, Auth: db,
		Health: db.Ping}
	srv := &http.Server{
		Handler:           skjoldhttp.NewServer(svc, log, metrics, db.Engine(), version),
		TLSConfig:         tlsConfig(cert),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http.server").Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	url := "https://" + ln.Addr().String()
	log.Info("listening", "url", url, "engine", db.Engine(), "version", version,
		"self_signed", selfSigned, "cert_sha256", fingerprint(cert))
	fmt.Fprintf(e.stdout, "Skjold is listening on %s\n", url)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
