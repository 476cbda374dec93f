// Package markdown turns the Markdown body of a post or comment into the
// HTML that is stored beside it and served as body_html: CommonMark with
// GitHub's tables (bounded: see boundedTable) and strikethrough, fenced
// code highlighted with CSS classes, @mentions of existing users linked,
// and the result sanitised last. It knows nothing of the database: the
// caller says which mentioned users exist.
//
// Raw HTML in a body is shown as the text it is, not passed through: a
// quiz site's users write "<div>" and "a<b" in prose about code, and mean
// the characters. So every element of the output comes from this package's
// renderer, which is what lets every link carry exactly
// rel="nofollow ugc noopener". The sanitiser still runs last over
// everything, as if the renderer could be fooled; its policy is tested
// against raw hostile HTML on its own.
package markdown

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/quizsite/discuss/model"
)

// Version identifies what Render produces. Rows store the version their
// body_html was rendered with, and rows of an older one are rendered again
// at start-up (service.RenderStoredBodies): raise it whenever a change here
// changes the output of an existing body, a tightened policy above all, so
// that no stored HTML outlives the rules it was made under. 2: a table
// whose padded rows would hold more cells than its text has bytes (see
// boundedTable) stays a paragraph.
const Version = 2

// Rel is the rel attribute of every link in the output: no ranking credit
// for what users post (nofollow, ugc), and no window.opener for the page
// it opens (noopener).
const Rel = "nofollow ugc noopener"

// MentionClass is the class of the link a mention becomes, for styling.
const MentionClass = "mention"

// HighlightStyle and HighlightStyleDark are the chroma styles that
// Stylesheet turns into CSS, for light and dark colour schemes.
const (
	HighlightStyle     = "github"
	HighlightStyleDark = "github-dark"
)

// User is a mentioned user who exists.
type User struct {
	ID       int64
	Username string
}

// MentionHref is where a mention links to: the demo page's view of the
// user's posts. A frontend with pages of its own can catch clicks on
// a.mention.
func MentionHref(u User) string { return fmt.Sprintf("/#/users/%d", u.ID) }

// Renderer renders bodies. It is safe for concurrent use.
type Renderer struct {
	md        goldmark.Markdown
	policy    *bluemonday.Policy
	formatter *chromahtml.Formatter
}

// mentionsKey holds, in a goldmark parse's context, the users that one
// body's mentions may link to. Goldmark hands per-call values to its
// parsers only through such keys, which are allocated once.
var mentionsKey = parser.NewContextKey()

// New returns a Renderer.
func New() *Renderer {
	r := &Renderer{formatter: chromahtml.New(chromahtml.WithClasses(true))}
	r.md = goldmark.New(
		goldmark.WithExtensions(boundedTable{}, extension.Strikethrough),
		goldmark.WithParserOptions(
			parser.WithInlineParsers(util.Prioritized(mentionParser{}, 500)),
			parser.WithASTTransformers(util.Prioritized(linkRel{}, 100)),
		),
		goldmark.WithRendererOptions(
			renderer.WithNodeRenderers(util.Prioritized(&nodeRenderer{formatter: r.formatter}, 100)),
		),
	)
	r.policy = policy()
	return r
}

// Render returns body as sanitised HTML. users holds the mentioned users
// who exist, by model.UsernameKey; any other @name stays text.
func (r *Renderer) Render(body string, users map[string]User) (string, error) {
	ctx := parser.NewContext()
	ctx.Set(mentionsKey, users)
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(body), &buf, parser.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("markdown: %w", err)
	}
	return r.policy.Sanitize(buf.String()), nil
}

// Sanitize applies the policy alone; Render calls it last.
func (r *Renderer) Sanitize(html string) string { return r.policy.Sanitize(html) }

// policy is bluemonday's UGC policy, with the attributes that this
// package's own output needs and nothing a user could style with:
//   - class only as chroma emits it on pre, code and span, and "mention"
//     on links;
//   - rel on links only as Rel (the UGC policy's own rule adds "nofollow" to
//     a link that has no rel, which never happens to ours).
//
// The UGC policy also allows id and the elements of raw HTML (div,
// details...). bluemonday can add rules but not take them away; no id or
// raw element reaches it from Render, whose output holds only what the
// renderer makes.
func policy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("class").Matching(highlightClasses()).OnElements("pre", "code", "span")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^` + MentionClass + `$`)).OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + regexp.QuoteMeta(Rel) + `$`)).OnElements("a")
	return p
}

// highlightClasses matches exactly one class that chroma's HTML formatter
// emits: the names of its token types.
func highlightClasses() *regexp.Regexp {
	names := make([]string, 0, len(chroma.StandardTypes))
	for _, name := range chroma.StandardTypes {
		if name != "" {
			names = append(names, regexp.QuoteMeta(name))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return regexp.MustCompile(`^(?:` + strings.Join(names, "|") + `)$`)
}

// Stylesheet returns the CSS for the highlight classes: HighlightStyle,
// and HighlightStyleDark for a dark colour scheme. Stored HTML names no
// scheme, so the page's preference picks the colours. The demo page
// serves it as web/highlight.css.
func Stylesheet() ([]byte, error) {
	var buf bytes.Buffer
	f := chromahtml.New(chromahtml.WithClasses(true))
	if err := f.WriteCSS(&buf, styles.Get(HighlightStyle)); err != nil {
		return nil, fmt.Errorf("markdown: %w", err)
	}
	buf.WriteString("@media (prefers-color-scheme: dark) {\n")
	if err := f.WriteCSS(&buf, styles.Get(HighlightStyleDark)); err != nil {
		return nil, fmt.Errorf("markdown: %w", err)
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// ---- mentions ----

// kindMention is the AST node kind of a linked mention.
var kindMention = ast.NewNodeKind("Mention")

// mentionNode is an @name of an existing user. Its child is the text
// "@name", so that where a link cannot be (inside another link, in an
// image's alt text) the text is what remains.
type mentionNode struct {
	ast.BaseInline
	user User
}

func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

func (n *mentionNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Username": n.user.Username}, nil)
}

// mentionParser finds mentions in text, by model.ScanMention's rules, and
// makes a node of those that name a user in the parse's mentionsKey.
// Inline code, code blocks and autolinks are parsed by others and never
// reach it.
type mentionParser struct{}

func (mentionParser) Trigger() []byte { return []byte{'@'} }

func (mentionParser) Parse(_ ast.Node, block text.Reader, pc parser.Context) ast.Node {
	users, _ := pc.Get(mentionsKey).(map[string]User)
	if len(users) == 0 {
		return nil
	}
	line, _ := block.PeekLine()
	name, _ := model.ScanMention(string(line), block.PrecendingCharacter())
	if name == "" {
		return nil
	}
	u, ok := users[model.UsernameKey(name)]
	if !ok {
		return nil
	}
	block.Advance(1 + len(name))
	n := &mentionNode{user: u}
	n.AppendChild(n, ast.NewString([]byte("@"+name)))
	return n
}

// ---- links ----

// linkRel gives every link and autolink the rel attribute Rel.
type linkRel struct{}

func (linkRel) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && (n.Kind() == ast.KindLink || n.Kind() == ast.KindAutoLink) {
			n.SetAttributeString("rel", []byte(Rel))
		}
		return ast.WalkContinue, nil
	})
}

// ---- rendering ----

// nodeRenderer renders what goldmark's HTML renderer would not render as
// this package wants: mentions, fenced code (highlighted) and raw HTML
// (shown as text).
type nodeRenderer struct {
	formatter *chromahtml.Formatter
}

func (r *nodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindMention, r.renderMention)
	reg.Register(ast.KindFencedCodeBlock, r.renderFencedCode)
	reg.Register(ast.KindRawHTML, r.renderRawHTML)
	reg.Register(ast.KindHTMLBlock, r.renderHTMLBlock)
}

func (r *nodeRenderer) renderMention(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if insideLink(node) {
		return ast.WalkContinue, nil // the text alone: links do not nest
	}
	if !entering {
		_, _ = w.WriteString("</a>")
		return ast.WalkContinue, nil
	}
	u := node.(*mentionNode).user
	fmt.Fprintf(w, `<a href="%s" class="%s" rel="%s">`, util.EscapeHTML([]byte(MentionHref(u))), MentionClass, Rel)
	return ast.WalkContinue, nil
}

func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Kind() == ast.KindLink || p.Kind() == ast.KindAutoLink {
			return true
		}
	}
	return false
}

// renderFencedCode highlights a fenced code block whose info string names
// a language chroma knows; any other is plain <pre><code>.
func (r *nodeRenderer) renderFencedCode(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.FencedCodeBlock)
	code := n.Lines().Value(source)
	if lexer := lexerFor(string(n.Language(source))); lexer != nil {
		it, err := chroma.Coalesce(lexer).Tokenise(nil, string(code))
		if err == nil {
			var out bytes.Buffer
			// The style only matters for inline styles; with classes the
			// stylesheet says how each looks.
			if err := r.formatter.Format(&out, styles.Fallback, it); err == nil {
				_, _ = w.Write(out.Bytes())
				return ast.WalkSkipChildren, nil
			}
		}
		// A lexer that fails (chroma bounds each of its regular
		// expressions in time) leaves the code plain.
	}
	_, _ = w.WriteString("<pre><code>")
	_, _ = w.Write(util.EscapeHTML(code))
	_, _ = w.WriteString("</code></pre>\n")
	return ast.WalkSkipChildren, nil
}

// lexerFor returns chroma's lexer for a fenced block's language, or nil
// when there is none or chroma knows no such language.
func lexerFor(lang string) chroma.Lexer {
	if lang == "" {
		return nil
	}
	return lexers.Get(lang)
}

// renderRawHTML shows an inline HTML tag as the text it is.
func (r *nodeRenderer) renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	_, _ = w.Write(util.EscapeHTML(node.(*ast.RawHTML).Segments.Value(source)))
	return ast.WalkSkipChildren, nil
}

// renderHTMLBlock shows a block of HTML as a paragraph of the text it is.
func (r *nodeRenderer) renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.HTMLBlock)
	raw := n.Lines().Value(source)
	if n.HasClosure() {
		raw = append(raw, n.ClosureLine.Value(source)...)
	}
	_, _ = w.WriteString("<p>")
	_, _ = w.Write(util.EscapeHTML(bytes.TrimRight(raw, "\n")))
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

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
