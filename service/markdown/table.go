package markdown

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// tableCellMargin is how many cells a table may have beyond the bytes of
// its text: a table written out costs at least a byte ("|") per cell, so
// only padding goes past its size, and a few missing cells per row stay
// far within this margin.
const tableCellMargin = 10_000

// boundedTable is goldmark's extension.Table (GitHub's tables) with one
// limit. GitHub's rules pad every row with empty cells to the header's
// width, so a header of n columns followed by rows of a lone "|" turns two
// bytes of body into n cells: 4,800 characters made 700,000 cells and 7 MB
// of HTML, stored with the comment. A paragraph whose table could have
// more cells than its bytes plus tableCellMargin is left a paragraph; the
// count is taken before goldmark builds a node per cell.
type boundedTable struct{}

// Extend registers what extension.Table registers, with its paragraph
// transformer behind the limit, at the same priorities.
func (boundedTable) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(
		parser.WithParagraphTransformers(util.Prioritized(boundedTableParagraph{extension.NewTableParagraphTransformer()}, 200)),
		parser.WithASTTransformers(util.Prioritized(extension.NewTableASTTransformer(), 0)),
	)
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(extension.NewTableHTMLRenderer(), 500)))
}

// boundedTableParagraph makes a table of a paragraph as table does, unless
// the table could hold too many cells (see boundedTable).
type boundedTableParagraph struct{ table parser.ParagraphTransformer }

func (b boundedTableParagraph) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	if maxTableCells(node.Lines(), reader.Source()) > paragraphBytes(node.Lines())+tableCellMargin {
		return
	}
	b.table.Transform(node, reader, pc)
}

// maxTableCells bounds the cells of any table that lines could make: a
// table's delimiter row, line i, has at most one column more than it has
// pipes, and every row from the header (line i-1) to the last line has
// that many cells once padded.
func maxTableCells(lines *text.Segments, source []byte) int {
	most := 0
	for i := 1; i < lines.Len(); i++ {
		line := lines.At(i)
		cols := bytes.Count(line.Value(source), []byte{'|'}) + 1
		most = max(most, cols*(lines.Len()-i+1))
	}
	return most
}

// paragraphBytes is the length of a paragraph's text.
func paragraphBytes(lines *text.Segments) int {
	n := 0
	for i := range lines.Len() {
		seg := lines.At(i)
		n += seg.Len()
	}
	return n
}
