package main

// The binary as a child process, for the tests that kill it with SIGKILL:
// a server run in the test's own process cannot be killed that way.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/dbtest"
)

// buildBinary builds the discuss binary into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "discuss")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// command is bin with args, with env added to the test's own environment.
func command(bin string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// process is the discuss binary running as a child process; its server
// has no context to cancel, the test kills it instead.
type process struct {
	*server
	cmd *exec.Cmd
}

// startProcess runs `bin serve` on addr with env added to the test's own
// environment until the test ends, and waits until it is healthy.
func startProcess(t *testing.T, bin, addr string, env map[string]string) *process {
	t.Helper()
	cmd := command(bin, env, "serve")
	cmd.Env = append(cmd.Env, "DISCUSS_SERVER_ADDR="+addr)
	p := &process{server: &server{base: "http://" + addr, stderr: &dbtest.SyncBuffer{}}, cmd: cmd}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := waitHealthy(p.base, 30*time.Second, p.server); err != nil {
		t.Fatalf("binary %v:\n%s", err, p.stderr)
	}
	return p
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Error(err)
	}
	_ = p.cmd.Wait()
}

// logOnFailure has a failed test show what the server logged.
func logOnFailure(t *testing.T, p *process) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server logged:\n%s", p.stderr.String())
		}
	})
}

// waitPortFree waits until nothing listens on addr any more.
func waitPortFree(t *testing.T, addr string) {
	t.Helper()
	free := poll(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})
	if !free {
		t.Fatalf("%s still accepts connections", addr)
	}
}
