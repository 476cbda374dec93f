package dbtest

import (
	"os"
	"testing"
)

// Redis returns the address of the Redis server of DISCUSS_TEST_REDIS_ADDR
// and a channel, also good as a key prefix, that no other test uses. It
// skips the test when the variable is unset: Redis tests run where one is
// configured (CI sets it), unlike the database tests, which always have
// SQLite to fall back on.
func Redis(t testing.TB) (addr, channel string) {
	t.Helper()
	addr = os.Getenv("DISCUSS_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("needs Redis: set DISCUSS_TEST_REDIS_ADDR")
	}
	return addr, "discuss-test-" + randomHex(6)
}
