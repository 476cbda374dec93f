package service

import "testing"

func TestTruncateRunes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"quiz_12345", 4, "quiz"},
		{"quiz", 10, "quiz"},
		{"héllo", 2, "hé"},
		{"日本語", 2, "日本"},
		{"🎉🎉🎉", 1, "🎉"},
		{"abc", 0, ""},
		{"", 3, ""},
	} {
		if got := truncateRunes(tc.in, tc.n); got != tc.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
