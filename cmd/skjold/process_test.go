package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the skjold command once for the tests that need a real process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "skjold-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "skjold")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess runs `skjold serve` on data as a child process, with env added to this
// process's environment, and waits for it to listen. The test's cleanup kills it (resuming
// it first, should the test have stopped it).
func startProcess(t *testing.T, data string, env map[string]string) (*exec.Cmd, *server) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = &syncBuffer{}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT); cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
			}
		}
	}()
	select {
	case url := <-lines:
		return cmd, &server{url: url, data: data, client: httpsClient(t, filepath.Join(data, "tls.crt"))}
	case <-time.After(30 * time.Second):
		t.Fatalf("skjold did not listen:\n%s", cmd.Stderr)
	}
	return nil, nil
}

// clusterNode is one process of startCluster.
type clusterNode struct {
	cmd *exec.Cmd
	*server
}

// startCluster runs n `skjold serve` processes on one database (env must name it in
// SKJOLD_DATABASE), each with its own data directory; the first makes the master key and
// the bootstrap operator token, the others start with its key file.
func startCluster(t *testing.T, n int, env map[string]string) []*clusterNode {
	t.Helper()
	dir := t.TempDir()
	var nodes []*clusterNode
	for i := range n {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		if i > 0 {
			e["SKJOLD_MASTER_KEY_FILE"] = filepath.Join(nodes[0].data, "master.key")
		}
		cmd, s := startProcess(t, filepath.Join(dir, fmt.Sprintf("node%d", i)), e)
		nodes = append(nodes, &clusterNode{cmd: cmd, server: s})
	}
	return nodes
}
