package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/model"
)

// TestSurrogateEscapes: a \u escape of half a UTF-16 surrogate pair is not
// text, and encoding/json would store it as U+FFFD; it is refused with a
// 400 naming the field. Valid pairs, escaped backslashes that only look
// like such an escape, and U+FFFD itself, sent or escaped, are text and are
// stored as sent.
func TestSurrogateEscapes(t *testing.T) {
	t.Parallel()
	ts, alice, _, post := newServerWithPost(t)
	comments := fmt.Sprintf("/api/v1/posts/%d/comments", post.ID)

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, body, field string
		}{
			{"LoneHigh", "/api/v1/posts", `{"title":"t","body":"a\ud800b"}`, "body"},
			{"LoneLow", "/api/v1/posts", `{"title":"\udc00","body":"b"}`, "title"},
			{"ReversedPair", "/api/v1/posts", `{"title":"t","body":"\ude00\ud83d"}`, "body"},
			{"HighAtEnd", "/api/v1/posts", `{"title":"t","body":"x\uD83D"}`, "body"},
			{"HighThenOtherEscape", "/api/v1/posts", `{"title":"t","body":"\ud83d\u0041"}`, "body"},
			{"HighThenPair", "/api/v1/posts", `{"title":"t","body":"\ud800\ud83d\ude00"}`, "body"},
			{"AfterEscapedBackslash", "/api/v1/posts", `{"title":"t","body":"\\\ud800"}`, "body"},
			{"UnknownField", "/api/v1/posts", `{"title":"t","body":"b","note":"\udfff"}`, "note"},
			{"InKey", "/api/v1/posts", `{"\ud800":1,"title":"t","body":"b"}`, "request body"},
			{"Comment", comments, `{"body":"\ud800"}`, "body"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", tc.path, alice.Token, tc.body)
				wantError(t, res, http.StatusBadRequest, model.EINVALID, tc.field+" is not valid text")
			})
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct {
			name, sent, stored string
		}{
			{"Pair", `\ud83d\ude00`, "😀"},
			{"PairUpperCase", `\uD83D\uDE00`, "😀"},
			{"EscapedBackslash", `\\ud800`, `\ud800`},
			{"EscapedBackslashThenPair", `\\\ud83d\ude00`, `\😀`},
			{"EscapedQuote", `\"\\udc00\"`, `"\udc00"`},
			{"ReplacementCharacter", "\uFFFD", "\uFFFD"},
			{"EscapedReplacementCharacter", `\ufffd`, "\uFFFD"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, `{"title":"t","body":"x`+tc.sent+`"}`)
				p := decodeAs[model.Post](t, res, http.StatusCreated, "create")
				ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), alice.Token, nil).JSON(t, &p)
				if p.Body != "x"+tc.stored {
					t.Fatalf("stored %q, want %q", p.Body, "x"+tc.stored)
				}
			})
		}
	})
}
