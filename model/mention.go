package model

import (
	"unicode"
	"unicode/utf8"
)

// ScanMention reads the name after the '@' that s starts with; prev is the
// rune before that '@' (0 at the start of the text). run is the length in
// bytes of the username runes that follow the '@', and name is them when
// they make a mention, else "". The mention parser of the service (which
// notifies) and the Markdown renderer (which links) both read mentions
// with it, so that they agree on what names a user.
//
// A mention is an '@' followed by 3 to 32 of [A-Za-z0-9_]. It does not count
// when the '@' directly follows a letter, digit, '_' or '.', so that e-mail
// addresses such as a@b.com name nobody, nor when the name runs on past 32
// runes or into a non-ASCII letter or digit ("@alicé" is not "@alic"): such a
// name cannot be a username, and guessing a prefix of it would notify the
// wrong user.
func ScanMention(s string, prev rune) (name string, run int) {
	start := 1 // after the '@'
	end := start
	for end < len(s) && end-start <= UsernameMax && IsUsernameRune(rune(s[end])) {
		end++ // username runes are ASCII, one byte each
	}
	run = end - start
	if prev == '.' || continuesName(prev) || run < UsernameMin || run > UsernameMax {
		return "", run
	}
	if next, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && continuesName(next) {
		return "", run
	}
	return s[start:end], run
}

// continuesName reports whether r, next to a name, would make it part of a
// longer word: any letter, digit or combining mark in any script, or '_'.
func continuesName(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
