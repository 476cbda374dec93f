//go:build !loadtest

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/quizsite/discuss/service/dbtest"
)

// TestSeedNotInProductionBuild: the binary built without the loadtest tag
// neither lists seed nor runs it.
func TestSeedNotInProductionBuild(t *testing.T) {
	var help dbtest.SyncBuffer
	if err := run(context.Background(), []string{"help"}, envOf(nil), &help, &dbtest.SyncBuffer{}); err != nil || strings.Contains(help.String(), "seed") {
		t.Fatalf("help: %v %q", err, help.String())
	}
	err := run(context.Background(), []string{"seed", "--users", "3"}, envOf(nil), &dbtest.SyncBuffer{}, &dbtest.SyncBuffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "-tags loadtest") {
		t.Fatalf("seed: %v (exit %d), want a refusal naming -tags loadtest", err, exitCode(err))
	}
}
