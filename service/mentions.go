package service

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quizsite/discuss/model"
)

// MaxMentions is how many distinct users one body can mention. Past it the
// rest are ignored, so that a body full of names cannot fan out to the whole
// site.
const MaxMentions = 20

// ParseMentions returns the usernames mentioned in body as "@username", in
// order of first appearance, each once whatever its case (the first
// spelling is kept), at most MaxMentions of them.
//
// A mention is an '@' followed by 3 to 32 of [A-Za-z0-9_]. It does not count
// when the '@' directly follows a letter, digit, '_' or '.', so that e-mail
// addresses such as a@b.com name nobody, nor when the name runs on past 32
// runes or into a non-ASCII letter or digit ("@alicé" is not "@alic"): such a
// name cannot be a username, and guessing a prefix of it would notify the
// wrong user.
func ParseMentions(body string) []string {
	var (
		names []string
		seen  map[string]bool
		prev  rune // the rune before i; 0 at the start
	)
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		if r != '@' || precedesNoMention(prev) {
			prev = r
			i += size
			continue
		}
		start := i + size
		end := start
		for end < len(body) && end-start <= model.UsernameMax && model.IsUsernameRune(rune(body[end])) {
			end++ // username runes are ASCII, one byte each
		}
		n := end - start
		next, _ := utf8.DecodeRuneInString(body[end:])
		if n >= model.UsernameMin && n <= model.UsernameMax && (end == len(body) || !continuesName(next)) {
			name := body[start:end]
			key := strings.ToLower(name)
			if !seen[key] {
				if seen == nil {
					seen = make(map[string]bool)
				}
				seen[key] = true
				names = append(names, name)
				if len(names) == MaxMentions {
					return names
				}
			}
		}
		// Resume after the name run: an '@' inside it would follow a
		// username rune and could not start a mention anyway.
		if n > 0 {
			prev = rune(body[end-1])
		} else {
			prev = '@'
		}
		i = end
	}
	return names
}

// precedesNoMention reports whether an '@' after r is part of a word or an
// address rather than the start of a mention.
func precedesNoMention(r rune) bool {
	return r == '.' || continuesName(r)
}

// continuesName reports whether r, next to a name, would make it part of a
// longer word: any letter, digit or combining mark in any script, or '_'.
func continuesName(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
