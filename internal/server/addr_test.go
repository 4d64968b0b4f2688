package server

import (
	"net"
	"testing"
)

func TestAdvertisedAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6379", "[::1]:6380", "192.0.2.9:7000"} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := AdvertisedAddr(a); got != addr {
			t.Errorf("AdvertisedAddr(%s) = %s, want it as is", addr, got)
		}
	}
	// A wildcard listener is advertised at an address one can connect to,
	// with its port.
	for _, addr := range []string{"0.0.0.0:6379", "[::]:6379"} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		got := AdvertisedAddr(a)
		host, port, err := net.SplitHostPort(got)
		if err != nil || port != "6379" {
			t.Fatalf("AdvertisedAddr(%s) = %q", addr, got)
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.IsUnspecified() {
			t.Errorf("AdvertisedAddr(%s) = %q: want a specific address", addr, got)
		}
		if want := interfaceIP(); want != nil && !ip.Equal(want) || want == nil && !ip.IsLoopback() {
			t.Errorf("AdvertisedAddr(%s) = %q: want the interface address %v (loopback without one)", addr, got, want)
		}
	}
}
