//go:build !loadtest

package main

import (
	"context"
	"strings"
	"testing"
)

// TestSeedNotInProductionBuild: the binary built without the loadtest tag
// neither lists seed nor runs it.
func TestSeedNotInProductionBuild(t *testing.T) {
	var help syncBuffer
	if err := run(context.Background(), []string{"help"}, envOf(nil), &help, &syncBuffer{}); err != nil || strings.Contains(help.String(), "seed") {
		t.Fatalf("help: %v %q", err, help.String())
	}
	err := run(context.Background(), []string{"seed", "--users", "3"}, envOf(nil), &syncBuffer{}, &syncBuffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "-tags loadtest") {
		t.Fatalf("seed: %v (exit %d), want a refusal naming -tags loadtest", err, exitCode(err))
	}
}
