package main

import (
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quizsite/discuss/configs"
)

// TestSecretConcurrentStarts: processes that start at once on one SQLite
// database, none configuring a secret, all sign with the same one: the
// first to keep its secret wins and the others read it, never a secret of
// their own nor a file half written.
func TestSecretConcurrentStarts(t *testing.T) {
	const starts = 8
	log := slog.New(slog.DiscardHandler)
	for round := range 20 {
		cfg := configs.Default()
		cfg.Database.DSN = filepath.Join(t.TempDir(), "data", "discuss.db")
		secrets := make([]string, starts)
		errs := make([]error, starts)
		var wg sync.WaitGroup
		begin := make(chan struct{})
		for i := range starts {
			wg.Go(func() {
				<-begin
				secret, err := signingSecret(cfg, log)
				secrets[i], errs[i] = string(secret), err
			})
		}
		close(begin)
		wg.Wait()
		for i := range starts {
			if errs[i] != nil {
				t.Fatalf("round %d, start %d: %v", round, i, errs[i])
			}
			if secrets[i] != secrets[0] {
				t.Fatalf("round %d: start %d signs with %q, start 0 with %q", round, i, secrets[i], secrets[0])
			}
		}
	}
}
