package secretfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeep: the first call keeps what generate made, later ones read it
// back; the file is the secret's alone, and no temporary file stays. Calls
// at once are tested through their callers (TestSecretConcurrentStarts in
// cmd/discuss).
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
