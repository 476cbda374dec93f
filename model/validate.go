package model

import (
	"strings"
	"unicode"
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

// UsernameKey returns the form of a valid username that accounts are unique
// and looked up by: usernames are told apart regardless of ASCII case, so
// that "Bob" cannot register beside "bob" and pass for him. The database
// keeps the same key in users.username_key as LOWER(username); usernames
// are ASCII, where Go and both databases lower-case alike.
func UsernameKey(name string) string { return strings.ToLower(name) }

// IsUsernameRune reports whether r may appear in a username.
func IsUsernameRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// DisplayName validates a display name as Text does, and refuses the
// characters hiddenRune names: a name is shown beside other people's
// text, and those would let it pass for another name or rearrange what
// follows it.
func DisplayName(s string) (string, error) {
	s, err := Text("display_name", s, 0, DisplayNameMax)
	if err != nil {
		return "", err
	}
	if strings.ContainsFunc(s, hiddenRune) {
		return "", Errorf(EINVALID, "display_name may not contain control or invisible formatting characters")
	}
	return s, nil
}

// SanitizeDisplayName removes from s the characters DisplayName refuses;
// it is for names we take as given, such as the quiz site's name claim.
func SanitizeDisplayName(s string) string {
	return strings.Map(func(r rune) rune {
		if hiddenRune(r) {
			return -1
		}
		return r
	}, s)
}

// hiddenRune reports whether r is a control character (NUL, BEL, newlines:
// Unicode Cc), a line or paragraph separator, or an invisible format
// character (Cf: the bidirectional overrides and isolates U+202A-U+202E
// and U+2066-U+2069, the marks U+200E and U+200F, zero-width spaces, the
// byte order mark, soft hyphens, tag characters). The zero-width joiner
// and non-joiner are format characters too, but emoji sequences and
// scripts such as Persian and Devanagari need them, and they cannot
// reorder text.
func hiddenRune(r rune) bool {
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Password validates a password. Its length is counted after trimming, as
// every text limit is (eight spaces are no password), but the password is
// kept as typed: the spaces a user typed are part of the secret.
func Password(s string) error {
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "password is not valid UTF-8")
	}
	n := utf8.RuneCountInString(strings.TrimSpace(s))
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
