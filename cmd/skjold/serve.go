package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/export"
	skjoldhttp "github.com/skjold-project/skjold/http"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/sms"
	"github.com/skjold-project/skjold/store"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 20 * time.Second

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "Run the HTTPS API server. On first start it creates the data directory with the\n"+
		"SQLite database, the master key, a self-signed certificate and a bootstrap operator token.")
	load := configFlags(fs, e.getenv)
	printConfig := fs.Bool("print-config", false, "print the effective configuration (without secrets) and exit")
	pprofAddr, pprofRemote := pprofFlags(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := checkPprofAddr(*pprofAddr, *pprofRemote); err != nil {
			return err
		}
	}
	if *printConfig {
		fmt.Fprint(e.stdout, cfg.printable())
		return nil
	}
	log := newLogger(e.stderr, cfg.logLevel())
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := checkPrivate(cfg.Data, "data directory", "chmod 700"); err != nil {
		return err
	}
	ring, err := openKeys(ctx, cfg, true)
	if err != nil {
		return err
	}
	auth, err := authOptions(cfg)
	if err != nil {
		return err
	}
	alerts, err := newAlerts(cfg, auth.Mailer, log)
	if err != nil {
		return err
	}
	cleaned, err := cleanInterruptedRestore(cfg, log)
	if err != nil {
		return err
	}
	var db *store.DB
	var boot bootstrapSecrets
	after := &afterErasure{log: log}
	after.outbox, _ = auth.Mailer.(*mail.Outbox)
	after.texts, _ = auth.SMS.(*sms.Outbox)
	metrics := skjoldhttp.NewMetrics(version, func(ctx context.Context) (int64, error) { return db.AuditLength(ctx) })
	metrics.WatchAlerts(alerts.Dropped, alerts.Failed)
	limits, err := cfg.postgresLimits()
	if err != nil {
		return err
	}
	mailer := &countingMailer{Mailer: auth.Mailer} // after the outbox's type check above
	auth.Mailer = mailer
	metrics.WatchMail(mailer.Failed)
	db, err = store.Open(ctx, cfg.dsn(), store.Options{Keys: keys.NewService(ring), Logger: log.With("component", "store"), Postgres: limits,
		Observe: metrics.ObserveStore, Auth: auth, Packager: export.AccessPackage, PublicURL: cfg.publicURL(), OnErasure: after.erased, OnAudit: func(e *skjold.AuditEvent) {
			metrics.CountAudit(e.Action)
			alerts.Notify(e)
			boot.Notify(e)
		}})
	var missing *store.MissingKeysError
	if errors.As(err, &missing) {
		return fmt.Errorf("master key file %s: %w", ring.Path(), err)
	} else if err != nil {
		return err
	}
	defer db.Close() // after the HTTP server has stopped: the writer commits what is queued
	if len(cleaned) > 0 {
		sys := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:serve", Source: "local"})
		if err := db.AuditBackupEvent(sys, "restore.interrupted_cleaned", strings.Join(cleaned, ",")); err != nil {
			return err
		}
	}
	metrics.WatchPurge(db.PurgePending)
	metrics.WatchCompliance(db.Compliance)
	metrics.WatchRequests(skjold.RequestTypes, func(ctx context.Context) (skjoldhttp.RequestCounts, error) {
		open, overdue, err := db.CountOpenRequests(ctx)
		return skjoldhttp.RequestCounts{Open: open, Overdue: overdue}, err
	})
	metrics.WatchNodes(db.FindNodes)
	if err := bootstrap(ctx, e, cfg, db); err != nil {
		return err
	}
	if err := bootstrapOwner(ctx, e, cfg, db); err != nil {
		return err
	}
	if err := boot.load(ctx, cfg, db, log); err != nil {
		return err
	}
	shield, err := newShield(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	alertFB, _ := alertFallback(cfg) // newAlerts checked it
	alertSvc := alert.NewService(db, alertFB, auth.Mailer, alerts, log)
	if err := alertSvc.Reload(ctx); err != nil {
		return err
	}
	svc := skjoldhttp.Services{Tenants: db, Tokens: db, Subjects: db, Records: db, Categories: db, Auth: db,
		Audit: checkedAudit{db, cfg.checkpointFile()}, Network: db, Approvals: db, Register: db, Purposes: db, Requests: db, Retention: db, Export: db, Import: db, Budgets: db, Shield: shield, Health: db.Health, Ready: db.Ready, Cluster: db,
		Preferences: db, Alerts: alertSvc, GrantRequests: db}
	svc.Compliance = db
	svc.Documents, svc.SubProcessors = db, func() []skjold.SubProcessor { return subProcessors(cfg) }
	svc.Maintenance = db
	svc.Incidents = db
	svc.DPA, svc.Registers = db, db
	if err := configureDPA(db, cfg); err != nil {
		return err
	}
	every, err := cfg.retentionInterval()
	if err != nil {
		return err
	}
	backups, backupJobs, err := backupService(cfg, db, keys.NewService(ring), metrics, log)
	if err != nil {
		return err
	}
	if backups != nil {
		svc.Backups, after.backups = backups, backups
	}
	g, gctx := errgroup.WithContext(ctx)
	checkpoints := checkpointJob(log, db, cfg.checkpointFile())
	leasePeriod, err := cfg.jobLease()
	if err != nil {
		return err
	}
	jobs := append(backgroundJobs(log, db, shield), retentionJob(log, db, every, metrics.ObserveSweep), checkpoints,
		clusterJob(log, cfg, db, ring))
	leaseJobs(jobs, &jobLease{db: db, holder: leaseHolder(cfg), period: leasePeriod, held: metrics.JobLeases()})
	jobs = append(jobs, smsOutboxJob(log, after.texts)...)
	for _, j := range append(jobs, outboxJob(log, after.outbox)...) {
		g.Go(func() error { return j.Run(gctx) })
	}
	for _, j := range backupJobs {
		g.Go(func() error { return j.Run(gctx) })
	}
	if backups != nil {
		j := &job{name: "journal-sync", every: journalSyncEvery, log: log, pass: backups.SyncJournal}
		g.Go(func() error { return j.Run(gctx) })
	}
	g.Go(func() error { return alerts.Run(gctx) })
	if *pprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, *pprofAddr, e.stdout, log) })
	}
	g.Go(func() error { return alertSvc.Run(gctx) })
	g.Go(func() error { return serveHTTPS(gctx, e, cfg, log, svc, db.Engine(), metrics) })
	err = g.Wait()
	// The requests have ended: sign the chain as this process leaves it [F3].
	if cerr := checkpoints.pass(context.WithoutCancel(ctx)); cerr != nil {
		log.Error("final audit checkpoint failed", "err", cerr)
	}
	flushJournal(ctx, backups, log) // every erasure made before the stop reaches every target
	return err
}

// bootstrap makes the first operator token on a database that never had one, valid for
// bootstrapTokenLife, writes it to <data>/initial-operator-token (mode 0600) and shows it
// once on a terminal (elsewhere only the file's path).
func bootstrap(ctx context.Context, e env, cfg Config, db *store.DB) error {
	n, err := db.CountOperatorTokensEver(ctx)
	if err != nil || n > 0 {
		return err
	}
	expires := time.Now().Add(bootstrapTokenLife)
	tok := &skjold.Token{Operator: true, Name: "bootstrap", Scopes: skjold.OperatorTokenScopes, ExpiresAt: &expires}
	if err := db.CreateToken(cliContext(ctx), tok); err != nil {
		return fmt.Errorf("create bootstrap operator token: %w", err)
	}
	path := filepath.Join(cfg.Data, "initial-operator-token")
	if err := writeFileAtomic(path, []byte(tok.Secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	showSecret(e.stderr, "a bootstrap operator API token", tok.Secret, path,
		"Use it to create tenants. It expires in 24 hours, or as soon as an operator person creates an operator token of their own.")
	return nil
}

// serveHTTPS serves the API over HTTPS on cfg.Addr and, when cfg.RedirectAddr is set,
// redirects plain HTTP there, until ctx ends; then it shuts both down gracefully.
func serveHTTPS(ctx context.Context, e env, cfg Config, log *slog.Logger, svc skjoldhttp.Services, engine string, metrics *skjoldhttp.Metrics) error {
	certs, selfSigned, err := newCertReloader(cfg, log, time.Now())
	if err != nil {
		return err
	}
	metrics.WatchCertificate(certs.notAfter)
	srv := &http.Server{
		Handler:           skjoldhttp.NewServer(svc, log, metrics, engine, version),
		TLSConfig:         tlsConfig(certs.getCertificate),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http.server").Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Both ports are bound before either serves, so a busy redirect port fails the start.
	redirect, rln, err := listenRedirect(cfg, ln.Addr(), log)
	if err != nil {
		ln.Close()
		return err
	}
	plain, pln, err := listenPlain(cfg, srv, log)
	if err != nil {
		ln.Close()
		if rln != nil {
			rln.Close()
		}
		return err
	}
	// SIGHUP reloads the certificate; caught from before the server says it listens.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	url := "https://" + ln.Addr().String()
	log.Info("listening", "url", url, "engine", engine, "version", version,
		"self_signed", selfSigned, "cert_sha256", fingerprint(*certs.current()))
	fmt.Fprintf(e.stdout, "Skjold is listening on %s\n", url)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { certs.reloadOnHangup(gctx, hup); return nil })
	serveUntilDone(gctx, g, srv, func() error { return srv.ServeTLS(ln, "", "") })
	if redirect != nil {
		serveUntilDone(gctx, g, redirect, func() error { return redirect.Serve(rln) })
	}
	if plain != nil {
		serveUntilDone(gctx, g, plain, func() error { return plain.Serve(pln) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		return nil
	})
	return g.Wait()
}

// serveUntilDone runs serve, which serves srv, in g; once ctx ends (or any of g's functions
// fails) it shuts srv down, giving in-flight requests shutdownGrace to finish.
func serveUntilDone(ctx context.Context, g *errgroup.Group, srv *http.Server, serve func() error) {
	g.Go(func() error {
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		return srv.Shutdown(sctx)
	})
}

// listenRedirect binds cfg.RedirectAddr and returns the plain-HTTP server to run on it, which
// only redirects to the HTTPS listener at httpsAddr; it returns nil when no redirect is set.
func listenRedirect(cfg Config, httpsAddr net.Addr, log *slog.Logger) (*http.Server, net.Listener, error) {
	if cfg.RedirectAddr == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", cfg.RedirectAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("redirect_addr: %w", err)
	}
	to := redirectBase(cfg, httpsAddr)
	srv := &http.Server{
		Handler:           redirectHandler(to),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		MaxHeaderBytes: 8 << 10,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http.redirect").Handler(), slog.LevelWarn),
	}
	log.Info("redirecting", "addr", ln.Addr().String(), "to", to)
	return srv, ln, nil
}

// listenPlain binds cfg.HTTPAddr (a loopback host:port or a unix socket, which
// Config.validate checked) and returns a plain-HTTP server for the same handler as the HTTPS
// one, for a TLS-terminating proxy on this host; nil when http_addr is not set. Over the unix
// socket every request comes from 127.0.0.1, so trusted_proxies = "127.0.0.1/32" lets the
// proxy's X-Forwarded-For name the client on either kind of listener.
func listenPlain(cfg Config, https *http.Server, log *slog.Logger) (*http.Server, net.Listener, error) {
	if cfg.HTTPAddr == "" {
		return nil, nil, nil
	}
	handler := https.Handler
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(cfg.HTTPAddr, "unix:"); ok {
		// A socket left by a process that died is removed; any other file is not.
		if fi, serr := os.Lstat(path); serr == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
		ln, err = net.Listen("unix", path)
		if err == nil {
			err = os.Chmod(path, 0o660) // the proxy reaches it through the group
		}
		next := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.RemoteAddr = "127.0.0.1:0"
			next.ServeHTTP(w, r)
		})
	} else {
		ln, err = net.Listen("tcp", cfg.HTTPAddr)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, nil, fmt.Errorf("http_addr: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: https.ReadHeaderTimeout, ReadTimeout: https.ReadTimeout,
		WriteTimeout: https.WriteTimeout, IdleTimeout: https.IdleTimeout,
		MaxHeaderBytes: https.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.With("component", "http.plain").Handler(), slog.LevelWarn),
	}
	log.Info("serving plain HTTP for a TLS-terminating proxy", "addr", ln.Addr().String())
	return srv, ln, nil
}

// redirectBase returns where plain HTTP is redirected: public_url, or else the host named in
// addr with the HTTPS listener's port (left out when it is 443). Never the request's Host
// header, which the client chooses: "Host: evil.example" would make an open redirect.
// Config.validate refuses a redirect without public_url when addr names no host.
func redirectBase(cfg Config, httpsAddr net.Addr) string {
	if cfg.PublicURL != "" {
		return strings.TrimSuffix(cfg.PublicURL, "/")
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	_, port, _ := net.SplitHostPort(httpsAddr.String())
	if port == "443" {
		if strings.Contains(host, ":") {
			return "https://[" + host + "]"
		}
		return "https://" + host
	}
	return "https://" + net.JoinHostPort(host, port)
}

// redirectHandler answers every request with 308 Permanent Redirect, which keeps the method
// and body, to the same path and query under base (https://host[:port][/path]). It serves
// nothing else, and sends no HSTS header, which browsers ignore over plain HTTP.
func redirectHandler(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path // "OPTIONS *" and the like
		}
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", base+path)
		w.Header().Set("Connection", "close") // no reason to keep a plain-HTTP connection open
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// cleanInterruptedRestore removes, before the database is opened, what a restore into the
// data directory that was cut off left there: a decrypted database that may hold subjects
// erased after the backup [D4]. It logs what it removed and returns the names, for the
// audit event recorded once the database is open.
func cleanInterruptedRestore(cfg Config, log *slog.Logger) ([]string, error) {
	dsn := cfg.dsn()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, nil // an interrupted restore into PostgreSQL is marked, and Open refuses it
	}
	dir := filepath.Dir(strings.TrimPrefix(dsn, "sqlite:"))
	cleaned, err := backup.CleanInterrupted(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if len(cleaned) > 0 {
		log.Warn("an interrupted restore was cleaned up: its decrypted database was overwritten and removed",
			"component", "backup", "dir", dir, "files", len(cleaned))
	}
	return cleaned, nil
}
