package markdown_test

import (
	"strings"
	"testing"

	"github.com/quizsite/discuss/service/markdown"
	"github.com/quizsite/discuss/service/markdown/markdowntest"
)

// padTable is a table of cols columns whose rows (each a lone "|") GitHub's
// table rules pad with empty cells to the header's width: about 2 bytes
// of body per row become cols cells of HTML.
func padTable(cols, rows int) string {
	return "|" + strings.Repeat("a|", cols) + "\n|" + strings.Repeat("-|", cols) + "\n" + strings.Repeat("|\n", rows)
}

// TestTableAmplification: the rows of a table are padded with empty cells
// to its header's width, so a comment of 4,800 characters (a header of 700
// columns, 1,000 one-character rows) made 700,000 cells: 7 MB of HTML
// stored with it and seconds of CPU, and a post of 20,000 characters made
// ten times that (minutes, gigabytes). A paragraph whose table would have
// more cells than it has bytes, plus a margin that real tables never
// reach, stays a paragraph. Tables written out, and rows missing a few
// cells, still render as tables.
func TestTableAmplification(t *testing.T) {
	r := markdown.New()
	t.Run("ErrPaddedRows", func(t *testing.T) {
		body := padTable(700, 1000)
		html, err := r.Render(body, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(html) > 4*len(body) || strings.Contains(html, "<td") {
			t.Fatalf("a body of %d bytes rendered to %d bytes of HTML (%t cells)", len(body), len(html), strings.Contains(html, "<td"))
		}
	})
	t.Run("OKWrittenOut", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("|" + strings.Repeat(" h |", 20) + "\n|" + strings.Repeat("---|", 20) + "\n")
		for range 200 {
			b.WriteString("|" + strings.Repeat(" 1 |", 20) + "\n")
		}
		html := renderSafe(t, r, b.String(), nil)
		if n := strings.Count(html, "<td"); n != 20*200 {
			t.Fatalf("%d cells, want %d", n, 20*200)
		}
	})
	t.Run("OKShortRowsPadded", func(t *testing.T) {
		markdowntest.Contains(t, "output", renderSafe(t, r, padTable(10, 30), nil), []string{"<table>", "<td></td>"})
	})
}
