package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// run is the whole program: it parses args, prepares a tenant token, runs the create and
// read phases within --duration-limit, and prints the report. It returns an error when any
// request failed or the limit cut a phase short.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.limit)
	defer cancel()

	rep, err := bench(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.json {
		err = printJSON(stdout, rep)
	} else {
		err = printText(stdout, rep)
	}
	if err != nil {
		return err
	}
	return verdict(rep)
}

// bench checks the server is reachable, gets a tenant token and runs both phases.
func bench(ctx context.Context, cfg config) (report, error) {
	client, err := newHTTPClient(cfg)
	if err != nil {
		return report{}, err
	}
	defer client.CloseIdleConnections()
	a := &api{http: client, base: strings.TrimRight(cfg.url, "/")}
	if err := a.call(ctx, "GET /healthz", "GET", "/healthz", nil, nil); err != nil {
		return report{}, fmt.Errorf("server not ready at %s: %w", cfg.url, err)
	}
	rep := report{URL: a.base, Clients: cfg.clients}
	if a.token, rep.Tenant, err = tenantToken(ctx, a, cfg); err != nil {
		return report{}, err
	}
	p := &population{run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	ids := make([]string, cfg.creates)
	if cfg.creates > 0 {
		rep.Phases = append(rep.Phases, runPhase(ctx, a, cfg.clients, phase{"create", cfg.creates, createOp(p.run, ids)}))
	}
	p.created, p.records = cfg.creates, created(ids)
	sizes := cfg.growth
	if len(sizes) == 0 {
		sizes = []int{0} // one pass at whatever size the tenant has
	}
	for _, size := range sizes {
		if size > 0 {
			r, err := preload(ctx, cfg, rep.Tenant, p, size)
			if err != nil {
				return rep, err
			}
			rep.Phases = append(rep.Phases, r)
		}
		for _, ph := range []phase{
			{"read", cfg.reads, readOp(p.records)},
			{"lookup-email", cfg.lookups, lookupOp(p, "email")},
			{"lookup-phone", cfg.lookups, lookupOp(p, "phone")},
			{"create-inline", cfg.inlineCreates, inlineCreateOp(p)},
			{"mixed", cfg.mixed, mixedOp(p)},
		} {
			if ph.total == 0 || ctx.Err() != nil || ph.name == "read" && len(p.records) == 0 {
				continue
			}
			r := runPhase(ctx, a, cfg.clients, ph)
			r.Subjects = size
			rep.Phases = append(rep.Phases, r)
		}
	}
	return rep, nil
}

// verdict returns an error when the run was not clean.
func verdict(rep report) error {
	var errs, stopped int
	for _, r := range rep.Phases {
		errs += r.Errors
		if r.Stopped {
			stopped++
		}
	}
	switch {
	case errs > 0:
		return fmt.Errorf("%d requests failed", errs)
	case stopped > 0:
		return errors.New("the duration limit or a signal stopped the run early")
	}
	return nil
}
