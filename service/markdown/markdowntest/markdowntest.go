// Package markdowntest checks rendered HTML, for the tests of the
// renderer and of the services and routes that store and serve it.
package markdowntest

import (
	"strings"
	"testing"
)

// Contains reports on t every string of want that html lacks and every
// string of not that it has; what names html in the messages.
func Contains(t testing.TB, what, html string, want []string, not ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(html, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, html)
		}
	}
	for _, n := range not {
		if strings.Contains(html, n) {
			t.Errorf("%s has %q:\n%s", what, n, html)
		}
	}
}
