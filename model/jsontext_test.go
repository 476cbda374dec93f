package model

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLoneSurrogate(t *testing.T) {
	t.Run("Found", func(t *testing.T) {
		for _, tc := range []struct {
			in     string
			field  string
			escape rune
		}{
			{`"\ud800"`, "", 0xd800},
			{`["\ud800"]`, "", 0xd800},
			{`{"a":1,"b":"\udc00"}`, "b", 0xdc00},
			{`{"a" : "x\uDBFF"}`, "a", 0xdbff},
			{`{"a":{"b":"\ud800"}}`, "a.b", 0xd800},
			{`{"a":[{"b":1},{"c":["x","\ud800"]}]}`, "a.c", 0xd800},
			{`{"a":{"b":1},"c":"\ud800"}`, "c", 0xd800},
			{`{"k\u0065y":"\ud800"}`, "key", 0xd800},
			{`{"a":{"\ud800":1}}`, "a", 0xd800},
			{`{"a":"\ude00\ud83d"}`, "a", 0xde00},
			{`{"a":"\ud83d\u0041"}`, "a", 0xd83d},
			{`{"a":"\ud83d\\ude00"}`, "a", 0xd83d},
			{`{"a":"\ud83d\ude00","b":"\ud83d"}`, "b", 0xd83d},
		} {
			field, r, found := LoneSurrogate([]byte(tc.in))
			if !found || field != tc.field || r != tc.escape {
				t.Errorf("LoneSurrogate(%s) = %q, %U, %v; want %q, %U", tc.in, field, r, found, tc.field, tc.escape)
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		for _, in := range []string{
			`{}`, `{"a":"plain"}`, `{"a":"\u00e9\n"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\uD83D\uDE00"}`,
			`{"a":"\\ud800"}`, `{"a":"\\\\ud800"}`, `{"a":"\"\\ud800"}`, `{"a":"\ufffd` + "\uFFFD" + `"}`,
		} {
			if field, r, found := LoneSurrogate([]byte(in)); found {
				t.Errorf("LoneSurrogate(%s) = %q, %U, true; want nothing found", in, field, r)
			}
		}
	})
}

// FuzzLoneSurrogate checks LoneSurrogate against encoding/json, which
// decodes a lone surrogate escape to U+FFFD: on valid UTF-8 JSON without
// U+FFFD of its own, sent or escaped, it finds one exactly when some
// decoded string, key or value, holds U+FFFD. On anything else it must
// merely not panic.
func FuzzLoneSurrogate(f *testing.F) {
	for _, s := range []string{
		`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`, `["\udc00\ud800"]`,
		`{"\ud800":{"b":[1,"\uDFFF"]}}`, `"\ud800`, `{"a":"\u12`, `{"a":"\ud800\`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, found := LoneSurrogate(data)
		if !json.Valid(data) || !utf8.Valid(data) || bytes.ContainsRune(data, utf8.RuneError) ||
			strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
			return
		}
		replaced := false
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // numbers out of float64 range are valid JSON too
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("valid JSON %q: %v", data, err)
			}
			if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) {
				replaced = true
			}
		}
		if found != replaced {
			t.Fatalf("LoneSurrogate(%q) found %v, but encoding/json replaced a character: %v", data, found, replaced)
		}
	})
}
