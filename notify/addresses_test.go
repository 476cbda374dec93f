package notify

import (
	"net/netip"
	"testing"
)

func TestAddressSlots(t *testing.T) {
	addr := netip.MustParseAddr
	// wantSlot asks a for a slot of address s and fails the test with why
	// unless the answer is want.
	wantSlot := func(t *testing.T, a *addressSlots, s string, want bool, why string) {
		t.Helper()
		if _, ok := a.reserve(addr(s)); ok != want {
			t.Fatal(why)
		}
	}
	t.Run("OK", func(t *testing.T) {
		a := newAddressSlots(2, nil)
		r1, ok1 := a.reserve(addr("192.0.2.1"))
		_, ok2 := a.reserve(addr("::ffff:192.0.2.1")) // the same address, IPv4-mapped
		if !ok1 || !ok2 {
			t.Fatal("the first two slots were refused")
		}
		wantSlot(t, a, "192.0.2.1", false, "a third slot was given")
		wantSlot(t, a, "192.0.2.2", true, "another address was refused")
		r1()
		r1() // a second release gives back nothing more
		wantSlot(t, a, "192.0.2.1", true, "a released slot was not given again")
		wantSlot(t, a, "192.0.2.1", false, "a double release freed two slots")
	})
	t.Run("IPv6CountsPer64", func(t *testing.T) {
		a := newAddressSlots(1, nil)
		wantSlot(t, a, "2001:db8:1:1::1", true, "first refused")
		wantSlot(t, a, "2001:db8:1:1:ffff::2", false, "another address of the same /64 got a slot")
		wantSlot(t, a, "2001:db8:1:2::1", true, "another /64 was refused")
	})
	t.Run("Exempt", func(t *testing.T) {
		a := newAddressSlots(1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
		for range 3 {
			wantSlot(t, a, "127.0.0.2", true, "an exempt address was refused")
		}
		wantSlot(t, a, "::1", true, "first ::1 refused")
		wantSlot(t, a, "::1", false, "::1 is not in the exempt prefix, yet was not capped")
	})
	t.Run("NoCap", func(t *testing.T) {
		a := newAddressSlots(0, nil)
		for range 100 {
			wantSlot(t, a, "192.0.2.1", true, "refused without a cap")
		}
	})
}
