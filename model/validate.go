package model

import (
	"strings"
	"unicode/utf8"
)

// Text limits of the API contract, in runes after trimming.
const (
	UsernameMin    = 3
	UsernameMax    = 32
	PasswordMin    = 8
	PasswordMax    = 128
	DisplayNameMax = 64
	TitleMax       = 200
	PostBodyMax    = 20000
	CommentBodyMax = 5000
	MessageMax     = 2000
	ExcerptRunes   = 140
)

// Text trims s and checks that it is valid UTF-8 holding between min and max
// runes. It returns the trimmed value, or an EINVALID error naming field.
func Text(field, s string, min, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		return "", Errorf(EINVALID, "%s is required", field)
	case n < min:
		return "", Errorf(EINVALID, "%s must be at least %d characters", field, min)
	case n > max:
		return "", Errorf(EINVALID, "%s must be at most %d characters", field, max)
	}
	return s, nil
}

// Username validates a username: 3 to 32 of [A-Za-z0-9_].
func Username(s string) (string, error) {
	s, err := Text("username", s, UsernameMin, UsernameMax)
	if err != nil {
		return "", err
	}
	for _, r := range s {
		if !IsUsernameRune(r) {
			return "", Errorf(EINVALID, "username may contain only letters, digits and underscores")
		}
	}
	return s, nil
}

// IsUsernameRune reports whether r may appear in a username.
func IsUsernameRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// Password validates a password. Unlike other text it is not trimmed: the
// spaces a user typed are part of the secret.
func Password(s string) error {
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "password is not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < PasswordMin || n > PasswordMax {
		return Errorf(EINVALID, "password must be %d to %d characters", PasswordMin, PasswordMax)
	}
	return nil
}

// Excerpt returns the first ExcerptRunes runes of s.
func Excerpt(s string) string {
	i, n := 0, 0
	for i < len(s) && n < ExcerptRunes {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return s[:i]
}
