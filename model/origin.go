package model

import (
	"net/url"
	"strings"
)

// Origins is an allow-list of web origins: the pages that may open /ws and
// call the API from a browser (CORS). Both use this one matcher, so that an
// origin one lets in the other does not refuse.
type Origins map[string]struct{}

// NewOrigins returns the allow-list of the configured origins; entries that
// are not http(s) origins are left out.
func NewOrigins(allowed []string) Origins {
	set := make(Origins, len(allowed))
	for _, o := range allowed {
		if key := NormalizeOrigin(o); key != "" {
			set[key] = struct{}{}
		}
	}
	return set
}

// Allows reports whether origin, as a browser sent it, is in the list.
func (o Origins) Allows(origin string) bool {
	key := NormalizeOrigin(origin)
	if key == "" {
		return false
	}
	_, ok := o[key]
	return ok
}

// NormalizeOrigin returns origin as lower-case scheme://host[:port] without
// a default port (https://Example.com:443/ is https://example.com), or ""
// when it is not an http or https origin.
func NormalizeOrigin(origin string) string {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
