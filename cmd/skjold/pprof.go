package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlags registers --pprof-addr and --pprof-allow-remote on fs. The profiler is off
// unless --pprof-addr is set, and then listens on a loopback address only: its pages show
// the program's memory and stacks, and it has no login. --pprof-allow-remote lifts the
// loopback rule for an address the operator has fenced off some other way.
func pprofFlags(fs *flag.FlagSet) (addr *string, allowRemote *bool) {
	addr = fs.String("pprof-addr", "", "serve Go's profiler (net/http/pprof) on this loopback host:port, plain HTTP without login; empty (the default) for none")
	allowRemote = fs.Bool("pprof-allow-remote", false, "let --pprof-addr name a non-loopback address (anyone who reaches it can read the process's memory profile)")
	return addr, allowRemote
}

// checkPprofAddr refuses an address that is not host:port, and, unless allowRemote, one whose
// host is not a loopback IP or localhost (an empty host listens on every interface).
func checkPprofAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof-addr %q is not host:port", addr)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("pprof-addr %q is not a loopback address: the profiler has no login, so it listens on 127.0.0.1 or [::1] only (--pprof-allow-remote to override)", addr)
	}
	return nil
}

// pprofHandler serves the profiler's pages under /debug/pprof/.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprof serves the profiler on addr until ctx ends. It prints the address it listens on
// to stdout, as serve does for the API.
func servePprof(ctx context.Context, addr string, stdout io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof-addr: %w", err)
	}
	srv := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.With("component", "pprof").Handler(), slog.LevelWarn)}
	log.Warn("profiler listening: it has no login", "addr", ln.Addr().String())
	fmt.Fprintf(stdout, "pprof is listening on http://%s/debug/pprof/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
