//go:build !loadtest

package main

import (
	"strings"
	"testing"
)

// TestSeedNotInProductionBuild: the binary built without the loadtest tag
// neither lists seed nor runs it.
func TestSeedNotInProductionBuild(t *testing.T) {
	if help, _, err := discuss(nil, "help"); err != nil || strings.Contains(help, "seed") {
		t.Fatalf("help: %v %q", err, help)
	}
	_, _, err := discuss(nil, "seed", "--users", "3")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "-tags loadtest") {
		t.Fatalf("seed: %v (exit %d), want a refusal naming -tags loadtest", err, exitCode(err))
	}
}
