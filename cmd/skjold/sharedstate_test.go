package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skjold-project/skjold/internal/pgtest"
)

// securityScript plays failed logins through nodes round-robin (one node: all through it)
// and returns every answer's status, then what each node answers for each client address
// after bans had a second to reach every node. The attackers come through the loopback
// proxy the nodes trust.
func securityScript(t *testing.T, nodes []*clusterNode) []string {
	t.Helper()
	var got []string
	i := 0
	next := func() *clusterNode { n := nodes[i%len(nodes)]; i++; return n }
	login := func(client, email string) {
		code, _ := next().callFrom(t, client, "POST", "/api/v1/auth/login", "",
			map[string]string{"email": email, "password": "guess-Number-1", "session": "token"})
		got = append(got, fmt.Sprintf("%s %s %d", client, email, code))
	}
	const known, unknown, other = "owner@skjold.local", "nobody@example.com", "nobody-else@example.com"
	// Seven guesses for an account and seven for an address without one, from two clients:
	// each locks out after the fifth (429), alike; neither client reaches ten failures.
	for range 7 {
		login("198.51.100.1", known)
	}
	for range 7 {
		login("198.51.100.2", unknown)
	}
	// Three more from the first client make its tenth failure: it is banned, everywhere.
	for range 3 {
		login("198.51.100.1", other)
	}
	time.Sleep(1500 * time.Millisecond) // bans reach every node within a second
	for _, n := range nodes {
		for _, client := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
			code, _ := n.callFrom(t, client, "GET", "/healthz", "", nil)
			got = append(got, fmt.Sprintf("healthz from %s %d", client, code))
		}
	}
	return got
}

// TestClusterSharesSecurityState runs the same failed logins against one node and, spread
// round-robin, against three nodes on one PostgreSQL database: the answers, lockouts and
// bans are the same [B11]. Before the state was shared, 27 failures over three nodes banned
// no one, and an unknown address was never locked out while an account was.
func TestClusterSharesSecurityState(t *testing.T) {
	pg := pgtest.Require(t)
	env := func() map[string]string {
		return map[string]string{"SKJOLD_DATABASE": pg.NewDatabase(t), "SKJOLD_TRUSTED_PROXIES": "127.0.0.1/32, ::1",
			"SKJOLD_LOG_LEVEL": "error"}
	}
	one := securityScript(t, startCluster(t, 1, env()))
	nodes := startCluster(t, 3, env())
	three := securityScript(t, nodes)
	want := []string{}
	for k := range 7 {
		want = append(want, fmt.Sprintf("198.51.100.1 owner@skjold.local %d", map[bool]int{true: 401, false: 429}[k < 5]))
	}
	for k := range 7 {
		want = append(want, fmt.Sprintf("198.51.100.2 nobody@example.com %d", map[bool]int{true: 401, false: 429}[k < 5]))
	}
	for range 3 {
		want = append(want, "198.51.100.1 nobody-else@example.com 401")
	}
	for range 3 {
		want = append(want, "healthz from 198.51.100.1 403", "healthz from 198.51.100.2 200", "healthz from 198.51.100.3 200")
	}
	if wantOne := want[:len(want)-6]; !slices.Equal(one, wantOne) { // one node: one round of health checks
		t.Errorf("one node answered\n%s\nwant\n%s", strings.Join(one, "\n"), strings.Join(wantOne, "\n"))
	}
	if !slices.Equal(three, want) {
		t.Errorf("three nodes answered\n%s\nwant\n%s", strings.Join(three, "\n"), strings.Join(want, "\n"))
	}
	var bans struct{ Items []struct{ Addr string } }
	tok := readToken(t, nodes[0].data)
	for k, n := range nodes {
		if n.call(t, "GET", "/api/v1/bans", tok, nil, &bans); len(bans.Items) != 1 || bans.Items[0].Addr != "198.51.100.1" {
			t.Errorf("node %d lists bans %+v, want the first client's alone", k, bans.Items)
		}
	}
}

// TestLeaseTakeoverAfterKill runs three nodes with a 3 s job lease, kills the node that holds
// the retention sweep's lease with SIGKILL, and expects another node to hold it within one
// lease period plus one check (a third of it), and one node only to hold each job's lease.
func TestLeaseTakeoverAfterKill(t *testing.T) {
	dsn := pgtest.Require(t).NewDatabase(t)
	const lease = 3 * time.Second
	nodes := startCluster(t, 3, map[string]string{"SKJOLD_DATABASE": dsn, "SKJOLD_JOB_LEASE": lease.String(),
		"SKJOLD_LOG_LEVEL": "error"})
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	holder := func() (string, time.Time) {
		var h string
		var exp int64
		if err := conn.QueryRow(t.Context(), "SELECT holder, expires_at FROM job_leases WHERE name = 'retention'").Scan(&h, &exp); err != nil {
			return "", time.Time{}
		}
		return h, time.UnixMicro(exp)
	}
	pidOf := func(h string) int {
		var pid int
		if i := strings.LastIndex(h, " pid "); i >= 0 {
			fmt.Sscanf(h[i+5:], "%d", &pid)
		}
		return pid
	}
	var first string
	waitFor(t, "a holder of the retention lease", func() bool { first, _ = holder(); return first != "" })
	var victim *clusterNode
	for _, n := range nodes {
		if n.cmd.Process.Pid == pidOf(first) {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("the lease holder %q is none of the nodes", first)
	}
	var leases int
	if err := conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM job_leases").Scan(&leases); err != nil {
		t.Fatal(err)
	}
	if leases < 7 {
		t.Errorf("%d job leases, want one per singleton job", leases)
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	var next string
	for {
		if next, _ = holder(); next != first && next != "" {
			break
		}
		if time.Since(killed) > 3*lease {
			t.Fatalf("no node took the retention lease over within %v of the holder's death", 3*lease)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("lease taken over %v after SIGKILL (lease %v)", took, lease)
	if took > lease+lease/3+time.Second {
		t.Errorf("the lease was taken over %v after the holder died, want within %v", took, lease+lease/3)
	}
	var heir *clusterNode
	for _, n := range nodes {
		if n != victim && n.cmd.Process.Pid == pidOf(next) {
			heir = n
		}
	}
	if heir == nil {
		t.Fatalf("the new holder %q is not a live node", next)
	}
	waitFor(t, "the new holder's lease metric", func() bool {
		_, metrics := heir.callFrom(t, "127.0.0.1", "GET", "/metrics", readToken(t, nodes[0].data), nil)
		return strings.Contains(metrics, `skjold_job_lease_held{job="retention"} 1`)
	})
	// The retention sweep ran (its last run is recorded) and one node holds its lease.
	var lastRun *int64
	if err := conn.QueryRow(t.Context(), "SELECT last_run FROM job_leases WHERE name = 'retention'").Scan(&lastRun); err != nil || lastRun == nil {
		t.Errorf("retention's last run: %v, %v", lastRun, err)
	}
}
