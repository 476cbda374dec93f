package service

import (
	"strings"
	"unicode/utf8"

	"github.com/quizsite/discuss/model"
)

// MaxMentions is how many distinct users one body can mention. Past it the
// rest are ignored, so that a body full of names cannot fan out to the whole
// site.
const MaxMentions = 20

// ParseMentions returns the usernames mentioned in body as "@username", in
// order of first appearance, each once whatever its case (the first
// spelling is kept), at most MaxMentions of them. What makes a mention is
// model.ScanMention's to say.
func ParseMentions(body string) []string {
	var (
		names []string
		seen  map[string]bool
		prev  rune // the rune before i; 0 at the start
	)
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		if r != '@' {
			prev = r
			i += size
			continue
		}
		name, run := model.ScanMention(body[i:], prev)
		if name != "" {
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
		i += size + run
		if run > 0 {
			prev = rune(body[i-1])
		} else {
			prev = '@'
		}
	}
	return names
}
