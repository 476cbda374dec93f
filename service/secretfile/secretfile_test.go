package secretfile

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestKeep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret")
	secret, created, err := Keep(path, "test secret", func() (string, error) { return "s1", nil })
	if err != nil || !created || secret != "s1" {
		t.Fatalf("first: %q %v %v", secret, created, err)
	}
	secret, created, err = Keep(path, "test secret", func() (string, error) { return "s2", nil })
	if err != nil || created || secret != "s1" {
		t.Fatalf("second: %q %v %v", secret, created, err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "s1\n" {
		t.Fatalf("file: %q %v", data, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", info.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	failed := errors.New("no randomness")
	_, _, err = Keep(filepath.Join(t.TempDir(), "other"), "test secret", func() (string, error) { return "", failed })
	if !errors.Is(err, failed) {
		t.Fatalf("a failed generate: %v", err)
	}
	if _, _, err := Keep(t.TempDir(), "test secret", nil); err == nil || !strings.Contains(err.Error(), "read test secret") {
		t.Fatalf("a folder at path: %v", err)
	}
}

// TestKeepConcurrent: callers that find no file at once all return the
// secret of the one that kept it first; each made its own.
func TestKeepConcurrent(t *testing.T) {
	const callers = 8
	for round := range 50 {
		path := filepath.Join(t.TempDir(), "secret")
		secrets := make([]string, callers)
		errs := make([]error, callers)
		made := make([]bool, callers)
		var wg sync.WaitGroup
		begin := make(chan struct{})
		for i := range callers {
			wg.Go(func() {
				<-begin
				secrets[i], made[i], errs[i] = Keep(path, "test secret", func() (string, error) { return rand.Text(), nil })
			})
		}
		close(begin)
		wg.Wait()
		creators := 0
		for i := range callers {
			if errs[i] != nil || secrets[i] != secrets[0] {
				t.Fatalf("round %d, caller %d: %q (caller 0: %q) %v", round, i, secrets[i], secrets[0], errs[i])
			}
			if made[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("round %d: %d callers say they made the secret", round, creators)
		}
	}
}
