package notify

import (
	"net/netip"
	"testing"
)

func TestAddressSlots(t *testing.T) {
	addr := netip.MustParseAddr
	t.Run("OK", func(t *testing.T) {
		a := newAddressSlots(2, nil)
		r1, ok1 := a.reserve(addr("192.0.2.1"))
		_, ok2 := a.reserve(addr("::ffff:192.0.2.1")) // the same address, IPv4-mapped
		if !ok1 || !ok2 {
			t.Fatal("the first two slots were refused")
		}
		if _, ok := a.reserve(addr("192.0.2.1")); ok {
			t.Fatal("a third slot was given")
		}
		if _, ok := a.reserve(addr("192.0.2.2")); !ok {
			t.Fatal("another address was refused")
		}
		r1()
		r1() // a second release gives back nothing more
		if _, ok := a.reserve(addr("192.0.2.1")); !ok {
			t.Fatal("a released slot was not given again")
		}
		if _, ok := a.reserve(addr("192.0.2.1")); ok {
			t.Fatal("a double release freed two slots")
		}
	})
	t.Run("IPv6CountsPer64", func(t *testing.T) {
		a := newAddressSlots(1, nil)
		if _, ok := a.reserve(addr("2001:db8:1:1::1")); !ok {
			t.Fatal("first refused")
		}
		if _, ok := a.reserve(addr("2001:db8:1:1:ffff::2")); ok {
			t.Fatal("another address of the same /64 got a slot")
		}
		if _, ok := a.reserve(addr("2001:db8:1:2::1")); !ok {
			t.Fatal("another /64 was refused")
		}
	})
	t.Run("Exempt", func(t *testing.T) {
		a := newAddressSlots(1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
		for range 3 {
			if _, ok := a.reserve(addr("127.0.0.2")); !ok {
				t.Fatal("an exempt address was refused")
			}
		}
		if _, ok := a.reserve(addr("::1")); !ok {
			t.Fatal("first ::1 refused")
		}
		if _, ok := a.reserve(addr("::1")); ok {
			t.Fatal("::1 is not in the exempt prefix, yet was not capped")
		}
	})
	t.Run("NoCap", func(t *testing.T) {
		a := newAddressSlots(0, nil)
		for range 100 {
			if _, ok := a.reserve(addr("192.0.2.1")); !ok {
				t.Fatal("refused without a cap")
			}
		}
	})
}
