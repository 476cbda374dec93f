package delivery

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// pushTimeout bounds one push, from connecting to the last byte of the
// push service's answer.
const pushTimeout = 15 * time.Second

// NewPushClient returns the HTTP client that Web Push posts with. A
// subscription's endpoint is a URL the browser (or whoever holds a token)
// names, so every connection is checked after the name is resolved: unless
// allowPrivate (push.allow_insecure_endpoints, for tests), only public
// unicast addresses are dialled, never loopback, private, link-local,
// shared (CGNAT) or other special-purpose ones. Checking the address
// dialled, rather than the URL, holds for names that resolve to such
// addresses, however the name was made. No proxy from the environment is
// used (it would be dialled instead of the endpoint) and no redirect is
// followed: push services answer where they are asked.
func NewPushClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: pushTimeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivateAddress
	}
	return &http.Client{
		Timeout: pushTimeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refusePrivateAddress is a net.Dialer's Control: it runs with the address
// about to be dialled, resolved, and refuses every one but public unicast.
func refusePrivateAddress(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("delivery: push endpoint address %q: %w", address, err)
	}
	if !publicUnicast(ap.Addr()) {
		return fmt.Errorf("delivery: push endpoint resolves to %s, which is not a public address", ap.Addr())
	}
	return nil
}

// specialPurpose are the ranges that netip's predicates do not cover and
// that no push service is on: IPv4 shared address space (RFC 6598), IETF
// protocol assignments, benchmarking, the reserved class E, IPv6's
// deprecated site-local prefix, and the IPv6 prefixes that embed an IPv4
// address (NAT64, 6to4), which could name a private one; and the
// documentation ranges.
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("fec0::/10"),
}

// publicUnicast reports whether a may be dialled for a push: a global
// unicast address that is neither private nor special-purpose. An
// IPv4-mapped IPv6 address is judged as its IPv4 address.
func publicUnicast(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
