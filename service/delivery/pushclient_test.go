package delivery

import (
	"net/netip"
	"testing"
)

// TestPublicUnicast: the addresses a push may be dialled at. Every
// internal kind is refused, also spelt as IPv4-mapped IPv6 or inside the
// IPv6 prefixes that embed an IPv4 address.
func TestPublicUnicast(t *testing.T) {
	for addr, want := range map[string]bool{
		"142.250.74.42":         true, // a push service
		"2a00:1450:4001:80b::a": true,
		"127.0.0.1":             false,
		"::1":                   false,
		"10.1.2.3":              false,
		"172.16.0.1":            false,
		"192.168.1.1":           false,
		"169.254.169.254":       false, // cloud metadata
		"fe80::1":               false,
		"fd00::1":               false,
		"100.64.0.1":            false,
		"0.0.0.0":               false,
		"::":                    false,
		"224.0.0.1":             false,
		"255.255.255.255":       false,
		"::ffff:127.0.0.1":      false,
		"::ffff:10.0.0.1":       false,
		"64:ff9b::a00:1":        false, // NAT64 of 10.0.0.1
		"2002:a00:1::1":         false, // 6to4 of 10.0.0.1
		"198.18.0.1":            false,
		"240.0.0.1":             false,
		"192.0.2.1":             false,
		"2001:db8::1":           false,
		"ff02::1":               false,
		"fec0::1":               false, // deprecated site-local
	} {
		if got := publicUnicast(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicUnicast(%s) = %v, want %v", addr, got, want)
		}
	}
}
