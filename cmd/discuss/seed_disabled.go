//go:build !loadtest

package main

import (
	"context"
	"io"
)

// seedUsage is empty: seed is not in this build.
const seedUsage = ""

// seedCmd refuses. `discuss seed` gives every account it makes one known
// password: a load-test tool, built only with -tags loadtest (see seed.go),
// so that no production binary can be made to create such accounts.
func seedCmd(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return usagef("seed is a load-test tool and not in this binary; build it with -tags loadtest, as cmd/loadgen/bench.sh does")
}
