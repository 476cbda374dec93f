package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// webFiles is the demo page and the reference client script, compiled into
// the binary so that `discuss serve` needs nothing beside it on disk.
//
//go:embed web
var webFiles embed.FS

// staticTypes are the content types of the files in web/. They are spelled
// out rather than taken from the mime package, whose table the operating
// system may extend or override; ES modules, in particular, load only when
// served as JavaScript.
var staticTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// index serves the demo page.
func (s *Server) index(c *gin.Context) {
	s.serveWebFile(c, "index.html")
}

// serviceWorker serves the demo page's service worker, which shows Web
// Push messages, from the root: a worker's scope is its own folder.
func (s *Server) serviceWorker(c *gin.Context) {
	s.serveWebFile(c, "sw.js")
}

// static serves a file of web/ under /static/. Folders are never listed and
// anything that is not a regular file answers 404 in the contract's shape.
func (s *Server) static(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("filepath"), "/")
	s.serveWebFile(c, name)
}

// serveWebFile answers with web/name. Every file is sent with
// "Cache-Control: no-cache" and a content-hash ETag: the names carry no
// version, so browsers must revalidate, and the ETag makes that a 304.
func (s *Server) serveWebFile(c *gin.Context, name string) {
	notFound := func() {
		writeError(c, s.log, model.Errorf(model.ENOTFOUND, "no file %s", c.Request.URL.Path))
	}
	ctype, ok := staticTypes[path.Ext(name)]
	if !ok || !fs.ValidPath(name) {
		notFound()
		return
	}
	data, err := fs.ReadFile(webFiles, "web/"+name)
	if err != nil {
		// Also the answer for a folder: ReadFile refuses to read one.
		notFound()
		return
	}
	sum := sha256.Sum256(data)
	h := c.Writer.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentSecurityPolicy(c.Request.Host))
	// ServeContent answers If-None-Match with 304 and handles Range. The
	// embedded files carry no modification time, so none is sent.
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(data))
}

// contentSecurityPolicy allows the page only its own scripts, styles and
// connections. connect-src names ws: and wss: of this host explicitly
// because older browsers do not count them as 'self'. A Host header with
// characters outside a host name is left out rather than echoed.
func contentSecurityPolicy(host string) string {
	connect := "'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// validHost reports whether host is a host name or address with an
// optional port, made only of the characters those use.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '-', r == ':', r == '[', r == ']':
		default:
			return false
		}
	}
	return true
}
