package model_test

import (
	"net/netip"
	"testing"

	"github.com/quizsite/discuss/model"
)

func TestAddressKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
		{"fe80::1%eth0", "fe80::"},
		{"::1", "::"},
	}
	for _, tt := range tests {
		if got := model.AddressKey(netip.MustParseAddr(tt.in)); got.String() != tt.want {
			t.Errorf("AddressKey(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := model.AddressKey(netip.Addr{}); got.IsValid() {
		t.Errorf("AddressKey(zero) = %s, want the zero Addr", got)
	}
}
