package model_test

import (
	"testing"

	"github.com/quizsite/discuss/model"
)

func TestDisplayName(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"OKTrimmed", "  Ada Lovelace ", "Ada Lovelace", ""},
		{"OKEmpty", "   ", "", ""},
		{"OKZeroWidthJoiner", "👩\u200d💻", "👩\u200d💻", ""},
		{"OKZeroWidthNonJoiner", "می\u200cخواهم", "می\u200cخواهم", ""},
		{"OKVariationSelector", "☺\ufe0f", "☺\ufe0f", ""},
		{"ErrTab", "Ada\tL", "", model.EINVALID},
		{"ErrDelete", "Ada\x7f", "", model.EINVALID},
		{"ErrC1Control", "Ada\u0085L", "", model.EINVALID},
		{"ErrLeftToRightOverride", "\u202dAda", "", model.EINVALID},
		{"ErrPopDirectional", "Ada\u202c", "", model.EINVALID},
		{"ErrFirstStrongIsolate", "\u2068Ada", "", model.EINVALID},
		{"ErrLeftToRightMark", "\u200eAda", "", model.EINVALID},
		{"ErrWordJoiner", "A\u2060da", "", model.EINVALID},
		{"ErrSoftHyphen", "A\u00adda", "", model.EINVALID},
		{"ErrParagraphSeparator", "Ada\u2029L", "", model.EINVALID},
		{"ErrInvalidUTF8", "Ada\xff", "", model.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := model.DisplayName(tt.in)
			if model.ErrorCode(err) != tt.code || got != tt.want {
				t.Fatalf("DisplayName(%q) = %q, %v; want %q, code %q", tt.in, got, err, tt.want, tt.code)
			}
		})
	}
}

func TestSanitizeDisplayName(t *testing.T) {
	in := "\u202eEve\x00\a\u200b \u2066Quiz\u2069\u200d!\n"
	if got, want := model.SanitizeDisplayName(in), "Eve Quiz\u200d!"; got != want {
		t.Fatalf("SanitizeDisplayName(%q) = %q, want %q", in, got, want)
	}
	if _, err := model.DisplayName(model.SanitizeDisplayName(in)); err != nil {
		t.Fatalf("a sanitised name is refused: %v", err)
	}
}
