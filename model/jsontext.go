package model

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// LoneSurrogate finds the first \u escape in the string literals of data, a
// well-formed JSON document, that stands for half of a UTF-16 surrogate pair
// without its other half: a high half not followed by a low one, or a low
// half on its own. Such an escape is not text, and encoding/json decodes it
// to U+FFFD without a word, so what would be stored is not what was sent.
// It returns the escape's value and field, the path of object keys that
// leads to the string, joined with dots as encoding/json names fields ("" at
// the top level, or when the escape is in a key of a top-level object).
// Malformed JSON is scanned without panicking, but to no defined result.
func LoneSurrogate(data []byte) (field string, escape rune, found bool) {
	if !bytes.Contains(data, []byte(`\u`)) {
		return "", 0, false // the common case: no \u escape at all
	}
	// keys holds, for each object or array open at i, the key being read in
	// it: "" in an array, or in an object before its first key.
	var keys []string
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			keys = append(keys, "")
		case '}', ']':
			if len(keys) > 0 {
				keys = keys[:len(keys)-1]
			}
		case '"':
			end, r, lone := scanString(data, i)
			// In well-formed JSON a string followed by a colon is a key.
			isKey := len(keys) > 0 && followedByColon(data, end+1)
			if lone {
				if isKey {
					keys = keys[:len(keys)-1]
				}
				return joinKeys(keys), r, true
			}
			if isKey {
				var key string
				_ = json.Unmarshal(data[i:min(end+1, len(data))], &key)
				keys[len(keys)-1] = key
			}
			i = end
		}
	}
	return "", 0, false
}

// scanString returns the index of the quote that closes the string literal
// opening at data[open] (len(data) when there is none) and its first lone
// surrogate escape, if any.
func scanString(data []byte, open int) (end int, escape rune, lone bool) {
	for i := open + 1; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i, escape, lone
		case '\\':
			r, ok := unicodeEscape(data, i)
			if !ok {
				i++ // a one-character escape such as \\ or \": skip the character
				continue
			}
			i += 5 // to the escape's last hex digit
			if !utf16.IsSurrogate(r) {
				continue
			}
			if low, ok := unicodeEscape(data, i+1); ok && utf16.DecodeRune(r, low) != unicode.ReplacementChar {
				i += 6 // a valid pair: skip its low half too
				continue
			}
			if !lone {
				escape, lone = r, true
			}
		}
	}
	return len(data), escape, lone
}

// unicodeEscape reads the escape \uXXXX at data[i], if there is one.
func unicodeEscape(data []byte, i int) (rune, bool) {
	if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}

// followedByColon reports whether the first byte from data[i] on that is not
// JSON whitespace is a colon.
func followedByColon(data []byte, i int) bool {
	for ; i < len(data); i++ {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// joinKeys names a field by its path of keys, leaving out arrays.
func joinKeys(keys []string) string {
	var path []string
	for _, k := range keys {
		if k != "" {
			path = append(path, k)
		}
	}
	return strings.Join(path, ".")
}
