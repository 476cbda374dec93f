package model

import "net/netip"

// AddressKey is what per-address limits count a client address under: the
// address itself for IPv4 (an IPv4-mapped IPv6 address counts as its IPv4
// address), its /64 for IPv6. One subscriber is usually given a whole /64,
// and counted by address could take a fresh one for every request.
func AddressKey(addr netip.Addr) netip.Addr {
	addr = addr.Unmap()
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return addr
}
