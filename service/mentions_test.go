package service_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

func TestParseMentions(t *testing.T) {
	long := strings.Repeat("a", model.UsernameMax)
	many := make([]string, 0, service.MaxMentions+5)
	for i := range service.MaxMentions + 5 {
		many = append(many, fmt.Sprintf("@user%02d", i))
	}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"OK", "hi @alice", []string{"alice"}},
		{"OK/AtStart", "@alice hi", []string{"alice"}},
		{"OK/Alone", "@bob", []string{"bob"}},
		{"OK/Several", "@alice and @bob_2, @Carol!", []string{"alice", "bob_2", "Carol"}},
		{"OK/Punctuation", "(@alice), @bob: @carol. \"@dave\" @erin?", []string{"alice", "bob", "carol", "dave", "erin"}},
		{"OK/AfterNewline", "line\n@alice\t@bob", []string{"alice", "bob"}},
		{"OK/FollowedByDot", "ask @alice.", []string{"alice"}},
		{"OK/FollowedByAt", "@alice@bob", []string{"alice"}},
		{"OK/Underscores", "@__init__ @a_b", []string{"__init__", "a_b"}},
		{"OK/Digits", "@123 @0000", []string{"123", "0000"}},
		{"OK/MaxLength", "@" + long, []string{long}},
		{"OK/AfterNonASCIIPunctuation", "«@alice» —@bob", []string{"alice", "bob"}},
		{"OK/AfterEmoji", "🎉@alice", []string{"alice"}},
		{"OK/DoubleAt", "@@alice", []string{"alice"}},
		{"Dedup/CaseInsensitive", "@Alice @alice @ALICE @bob", []string{"Alice", "bob"}},
		{"Cap", strings.Join(many, " "), stripAt(many[:service.MaxMentions])},
		{"Cap/DuplicatesDoNotCount", "@alice @alice @alice " + strings.Join(many[:service.MaxMentions-1], " "), append([]string{"alice"}, stripAt(many[:service.MaxMentions-1])...)},
		{"None/Empty", "", nil},
		{"None/NoAt", "hello world", nil},
		{"None/BareAt", "@ @ @", nil},
		{"None/TrailingAt", "hi @", nil},
		{"None/TooShort", "@ab @a", nil},
		{"None/TooLong", "@" + long + "a", nil},
		{"None/TooLongWithMore", "@" + long + "abc def", nil},
		{"None/Email", "mail a@b.com or alice@example.org", nil},
		{"None/EmailWithDotBefore", "first.last@example.com", nil},
		{"None/AfterDot", "x.@alice", nil},
		{"None/AfterUnderscore", "_@alice", nil},
		{"None/AfterDigit", "1@alice", nil},
		{"None/AfterNonASCIILetter", "é@alice", nil},
		{"None/IntoNonASCIILetter", "@alicé @bobß", nil},
		{"None/IntoCombiningMark", "@alice\u0301", nil},
		{"None/IntoNonASCIIDigit", "@alice٣", nil},
		{"None/Hyphen", "@-alice", nil},
		{"Mixed/EmailThenMention", "a@b.com @carol", []string{"carol"}},
		{"Mixed/TooLongThenValid", "@" + long + "x @dave", []string{"dave"}},
		{"Mixed/InvalidUTF8", "\xff@alice \xfe", []string{"alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := service.ParseMentions(tt.body)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseMentions(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func stripAt(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimPrefix(n, "@")
	}
	return out
}

// FuzzParseMentions checks that no input panics and that every result is a
// valid username that the input holds right after an '@', named once.
func FuzzParseMentions(f *testing.F) {
	for _, seed := range []string{"hi @alice", "a@b.com", "@" + strings.Repeat("x", 40), "@Bob @bob", "é@alice @alicé", "\xff@\xfe"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		names := service.ParseMentions(body)
		if len(names) > service.MaxMentions {
			t.Fatalf("%d mentions, more than %d", len(names), service.MaxMentions)
		}
		seen := map[string]bool{}
		for _, name := range names {
			if _, err := model.Username(name); err != nil || name != strings.TrimSpace(name) {
				t.Fatalf("%q is not a valid username: %v", name, err)
			}
			if !strings.Contains(body, "@"+name) {
				t.Fatalf("%q does not appear after an '@' in %q", name, body)
			}
			key := strings.ToLower(name)
			if seen[key] {
				t.Fatalf("%q named twice", name)
			}
			seen[key] = true
		}
	})
}
