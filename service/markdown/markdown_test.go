package markdown_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/quizsite/discuss/service/markdown"
	"github.com/quizsite/discuss/service/markdown/markdowntest"
)

// xssVectors are the OWASP XSS filter evasion cheat sheet's families, and
// a few more that Markdown adds (its link and image syntax). Each is tried
// as a body (through the whole renderer) and as raw HTML given to the
// sanitiser alone, since the renderer's escaping of raw HTML is not what
// keeps a body safe: the policy is.
var xssVectors = []string{
	`<script>alert(1)</script>`,
	`<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>`,
	`<script/XSS src="https://xss.example/xss.js"></script>`,
	`<<SCRIPT>alert("XSS");//\<</SCRIPT>`,
	`<SCRIPT SRC=//xss.example/.j>`,
	`<IMG SRC="javascript:alert('XSS');">`,
	`<IMG SRC=javascript:alert('XSS')>`,
	`<IMG SRC=JaVaScRiPt:alert('XSS')>`,
	"<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
	`<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\>`,
	`<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>`,
	`<IMG SRC=# onmouseover="alert('xxs')">`,
	`<IMG onmouseover="alert('xxs')">`,
	`<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>`,
	`<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">`,
	`<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>`,
	`<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>`,
	`<IMG SRC="jav	ascript:alert('XSS');">`,
	`<IMG SRC="jav&#x09;ascript:alert('XSS');">`,
	`<IMG SRC="jav&#x0A;ascript:alert('XSS');">`,
	`<IMG SRC="jav&#x0D;ascript:alert('XSS');">`,
	`<IMG SRC=" &#14;  javascript:alert('XSS');">`,
	`<a href="jav&#x09;ascript:alert(1)">x</a>`,
	`<a href="&#x6A;avascript:alert(1)">x</a>`,
	`<a href=" javascript:alert(1)">x</a>`,
	`<a href="vbscript:msgbox(1)">x</a>`,
	`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
	`<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">`,
	`<BODY onload!#$%&()*~+-_.,:;?@[/|\]^` + "`" + `=alert("XSS")>`,
	`<BODY ONLOAD=alert('XSS')>`,
	`<svg/onload=alert('XSS')>`,
	`<svg><script>alert(1)</script></svg>`,
	`<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<STYLE>li {list-style-image: url("javascript:alert('XSS')");}</STYLE><UL><LI>XSS</br>`,
	`<STYLE>@import'https://xss.example/xss.css';</STYLE>`,
	`<DIV STYLE="background-image: url(javascript:alert('XSS'))">`,
	`<DIV STYLE="width: expression(alert('XSS'));">`,
	`<span style="color:red" class="evil">x</span>`,
	`<LINK REL="stylesheet" HREF="javascript:alert('XSS');">`,
	`<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert('XSS');">`,
	`<IFRAME SRC="javascript:alert('XSS');"></IFRAME>`,
	`<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>`,
	`<FRAMESET><FRAME SRC="javascript:alert('XSS');"></FRAMESET>`,
	`<TABLE BACKGROUND="javascript:alert('XSS')">`,
	`<TD BACKGROUND="javascript:alert('XSS')">`,
	`<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.example/scriptlet.html"></OBJECT>`,
	`<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH" type="image/svg+xml" AllowScriptAccess="always"></EMBED>`,
	`<BASE HREF="javascript:alert('XSS');//">`,
	`<form action="javascript:alert(1)"><button>x</button></form>`,
	`<input onfocus=alert(1) autofocus>`,
	`<details open ontoggle=alert(1)>`,
	`<a href="https://ok.example" onclick="alert(1)" target="_self">x</a>`,
	`<a href="https://ok.example" rel="opener">x</a>`,
	`<img id="cookie" name="location">`,
	`<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->`,
	`<XSS STYLE="behavior: url(xss.htc);">`,
	`<? echo('<SCR)';echo('IPT>alert("XSS")</SCRIPT>'); ?>`,
	`"><script>alert(1)</script>`,
	`</textarea><script>alert(1)</script>`,
	`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
}

// markdownVectors are attacks through Markdown's own syntax.
var markdownVectors = []string{
	`[x](javascript:alert(1))`,
	`[x](JAVASCRIPT:alert(1))`,
	`[x](jav&#x09;ascript:alert(1))`,
	`[x](&#106;avascript:alert(1))`,
	`[x](<javascript:alert(1)>)`,
	`[x](vbscript:msgbox(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
	`[x](file:///etc/passwd)`,
	`![x](javascript:alert(1))`,
	`![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)`,
	`<javascript:alert(1)>`,
	"[x][r]\n\n[r]: javascript:alert(1)",
	`[x](https://ok.example "title\" onmouseover=\"alert(1)")`,
	`![x" onerror="alert(1)](https://ok.example/a.png)`,
	"```html\n<script>alert(1)</script>\n```",
	"```\"><script>alert(1)</script>\nx\n```",
	"`<script>alert(1)</script>`",
	"<div>\n<script>alert(1)</script>\n</div>",
	"| a |\n|---|\n| <img src=x onerror=alert(1)> |",
}

// alice is the one user of the renderings that need one.
func alice() map[string]markdown.User {
	return map[string]markdown.User{"alice": {ID: 1, Username: "alice"}}
}

// renderSafe renders body and fails the test unless that succeeds and
// the output passes assertSafe.
func renderSafe(t testing.TB, r *markdown.Renderer, body string, users map[string]markdown.User) string {
	t.Helper()
	out, err := r.Render(body, users)
	if err != nil {
		t.Fatal(err)
	}
	assertSafe(t, out, true)
	return out
}

func TestSanitiserNeutralisesXSS(t *testing.T) {
	r := markdown.New()
	for _, v := range xssVectors {
		t.Run("Render/"+v, func(t *testing.T) { renderSafe(t, r, v, alice()) })
		t.Run("Sanitize/"+v, func(t *testing.T) { assertSafe(t, r.Sanitize(v), false) })
	}
	for _, v := range markdownVectors {
		t.Run("Markdown/"+v, func(t *testing.T) { renderSafe(t, r, v, alice()) })
	}
}

// renderedElement reports whether Render's output may hold an element
// called name: only what Markdown makes.
func renderedElement(name string) bool {
	return slices.Contains(strings.Fields(`a p br hr em strong del s code pre span h1 h2 h3 h4 h5 h6
		ul ol li blockquote table thead tbody tr th td img`), name)
}

// activeElement reports whether an element called name can run script,
// load a document, a style or a plug-in, or submit anything; none may
// survive even the sanitiser alone.
func activeElement(name string) bool {
	return slices.Contains(strings.Fields(`script style iframe frame frameset object embed applet link
		meta base form input button textarea select svg math xss noscript template`), name)
}

// assertSafe parses out as a browser would and fails on anything that
// runs script, loads a document or style, or styles the page: an active
// element, an event handler, a style attribute, a class chroma does not
// make, a URL with a scheme other than http, https or mailto (after the
// browser's own stripping of tabs and newlines and decoding of entities),
// or a link without nofollow. rendered is for Render's output, which must
// also hold only the elements Markdown makes, no id, and links whose rel
// is exactly markdown.Rel.
func assertSafe(t testing.TB, out string, rendered bool) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data != "html" && n.Data != "head" && n.Data != "body" {
			if activeElement(n.Data) || rendered && !renderedElement(n.Data) {
				t.Errorf("element <%s> in %q", n.Data, out)
			}
			rel := ""
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case strings.HasPrefix(key, "on"), key == "style", key == "target", key == "srcset",
					key == "formaction", key == "action", key == "background", key == "xlink:href",
					rendered && (key == "id" || key == "name"):
					t.Errorf("attribute %s=%q on <%s> in %q", a.Key, a.Val, n.Data, out)
				case key == "href" || key == "src":
					if !safeURL(a.Val) {
						t.Errorf("URL %s=%q on <%s> in %q", a.Key, a.Val, n.Data, out)
					}
				case key == "class":
					if !regexp.MustCompile(`^[a-z0-9]{1,8}$`).MatchString(a.Val) {
						t.Errorf("class %q on <%s> in %q", a.Val, n.Data, out)
					}
				case key == "rel":
					rel = a.Val
				}
			}
			switch {
			case n.Data != "a" || !hasAttr(n, "href"):
			case rendered && rel != markdown.Rel:
				t.Errorf("link rel %q, want %q, in %q", rel, markdown.Rel, out)
			case !slices.Contains(strings.Fields(rel), "nofollow"):
				t.Errorf("link rel %q without nofollow in %q", rel, out)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

// failures counts the failures reported to it.
type failures struct {
	testing.TB
	n int
}

func (f *failures) Helper()               {}
func (f *failures) Errorf(string, ...any) { f.n++ }
func (f *failures) Fatal(...any)          { f.n++ }

// TestAssertSafeCatches proves that assertSafe fails on what an unsafe
// renderer or a loose policy would let through.
func TestAssertSafeCatches(t *testing.T) {
	for _, out := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="jav&#x09;ascript:alert(1)" rel="nofollow ugc noopener">x</a>`,
		`<a href=" data:text/html,x" rel="nofollow ugc noopener">x</a>`,
		`<a href="https://ok.example" rel="nofollow">x</a>`,
		`<p style="color:red">x</p>`,
		`<span class="evil-class">x</span>`,
		`<svg><a xlink:href="javascript:alert(1)">x</a></svg>`,
		`<div>x</div>`,
		`<img id="x" src="https://ok.example/a.png">`,
	} {
		f := &failures{TB: t}
		assertSafe(f, out, true)
		if f.n == 0 {
			t.Errorf("assertSafe passed %q", out)
		}
	}
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// safeURL reports whether u, as an attribute value after entity decoding
// (html.Parse did that), is relative or http, https or mailto once a
// browser strips the ASCII tabs, newlines and leading controls it ignores.
func safeURL(u string) bool {
	u = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, u)
	u = strings.ToLower(strings.TrimLeft(u, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
	scheme, _, found := strings.Cut(u, ":")
	if !found || strings.ContainsAny(scheme, "/?#") {
		return true // relative
	}
	return scheme == "http" || scheme == "https" || scheme == "mailto"
}

func TestRender(t *testing.T) {
	r := markdown.New()
	users := map[string]markdown.User{"alice": {ID: 7, Username: "Alice"}}
	tests := []struct {
		name, body string
		want       []string // substrings of the output
		not        []string
	}{
		{"Highlight", "```go\nfunc main() { fmt.Println(\"hi\") }\n```", []string{`<pre class="chroma"><code>`, `<span class="kd">func</span>`, `<span class="nf">main</span>`, `<span class="s">&#34;hi&#34;</span>`}, nil},
		{"UnknownLanguagePlain", "```nosuchlanguage\n<b>x</b>\n```", []string{"<pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>"}, []string{"chroma"}},
		{"NoLanguagePlain", "```\nif a < b {}\n```", []string{"<pre><code>if a &lt; b {}\n</code></pre>"}, nil},
		{"Table", "| a | b |\n|:--|--:|\n| 1 | 2 |", []string{"<table>", "<thead>", "<th", ">a</th>", "<tbody>", "<td", ">2</td>", "</table>"}, nil},
		{"Strikethrough", "~~gone~~", []string{"<del>gone</del>"}, nil},
		{"Emphasis", "*a* **b** `c`", []string{"<em>a</em>", "<strong>b</strong>", "<code>c</code>"}, nil},
		{"LinkRel", "[x](https://example.com/a?b=1) <https://example.com>", []string{`<a href="https://example.com/a?b=1" rel="nofollow ugc noopener">x</a>`, `<a href="https://example.com" rel="nofollow ugc noopener">https://example.com</a>`}, nil},
		{"RawHTMLIsText", "use <div> when a<b, and <b>bold</b>", []string{"use &lt;div&gt; when a&lt;b, and &lt;b&gt;bold&lt;/b&gt;"}, []string{"<div>", "<b>"}},
		{"MentionOfExistingUser", "thanks @alice!", []string{`thanks <a href="/#/users/7" class="mention" rel="nofollow ugc noopener">@alice</a>!`}, nil},
		{"MentionAnyCase", "@ALICE", []string{`<a href="/#/users/7" class="mention" rel="nofollow ugc noopener">@ALICE</a>`}, nil},
		{"MentionOfUnknownUser", "thanks @bob", []string{"thanks @bob"}, []string{"<a"}},
		{"NoMentionInEmail", "write to x@alice.com", nil, []string{"<a"}},
		{"NoMentionInLongerName", "@alice_x @aliceé", nil, []string{"<a"}},
		{"NoMentionInCode", "`@alice`\n\n```\n@alice\n```", []string{"<code>@alice</code>"}, []string{"<a"}},
		{"NoLinkInLink", "[see @alice](https://example.com)", []string{`<a href="https://example.com" rel="nofollow ugc noopener">see @alice</a>`}, []string{"mention"}},
		{"MentionInEmphasis", "**@alice**", []string{`<strong><a href="/#/users/7" class="mention" rel="nofollow ugc noopener">@alice</a></strong>`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			markdowntest.Contains(t, "output", renderSafe(t, r, tt.body, users), tt.want, tt.not...)
		})
	}
}

// TestStylesheet checks that the demo page's highlight.css is what
// Stylesheet makes now, and that it styles the classes the renderer
// emits. Run with UPDATE_HIGHLIGHT_CSS=1 to write the file again after
// changing chroma or the style.
func TestStylesheet(t *testing.T) {
	css, err := markdown.Stylesheet()
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{".chroma {", ".chroma .kd {", ".chroma .nf {", ".chroma .s {", ".chroma .c {"} {
		if !strings.Contains(string(css), sel) {
			t.Errorf("stylesheet has no %q", sel)
		}
	}
	const path = "../../api/web/highlight.css"
	if os.Getenv("UPDATE_HIGHLIGHT_CSS") != "" {
		if err := os.WriteFile(path, css, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != string(css) {
		t.Errorf("%s is not what markdown.Stylesheet makes; run UPDATE_HIGHLIGHT_CSS=1 go test ./service/markdown", path)
	}
}

// BenchmarkRender measures a comment of prose and one with a highlighted
// code block, the two costs a write adds (README, Rich text).
func BenchmarkRender(b *testing.B) {
	r, users := markdown.New(), alice()
	prose := strings.Repeat("Thanks @alice, the loop should start at *zero*; see [the notes](https://example.com/n). ", 4)
	code := "Try this:\n\n```go\n" + strings.Repeat("for i := 0; i < n; i++ {\n\tsum += a[i] // add\n}\n", 5) + "```\n"
	for _, bc := range []struct{ name, body string }{{"Prose", prose}, {"Code", code}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Render(bc.body, users); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzRender: whatever the body, Render neither panics nor fails, and its
// output passes assertSafe. The seeds are the XSS vectors above.
func FuzzRender(f *testing.F) {
	for _, v := range append(append([]string{}, xssVectors...), markdownVectors...) {
		f.Add(v)
	}
	r := markdown.New()
	f.Fuzz(func(t *testing.T, body string) { renderSafe(t, r, body, alice()) })
}
