package server

import (
	"net"
	"strconv"
)

// AdvertisedAddr is the address other nodes are told a listener serves
// on: addr itself, or, when it listens on every interface (0.0.0.0, ::),
// addr's port at the first up, non-loopback interface's address, IPv4
// first. Nodes report it as Redis replicas report their address to their
// master, so that INFO replication and ROLE name a host one can connect
// to; --announce-addr overrides it where that guess is wrong (NAT, several
// networks).
func AdvertisedAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	port := strconv.Itoa(tcp.Port)
	if ip := interfaceIP(); ip != nil {
		return net.JoinHostPort(ip.String(), port)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// interfaceIP returns the first global unicast address of an up,
// non-loopback interface, an IPv4 address when there is one; nil when
// there is none.
func interfaceIP() net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var v6 net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil {
				return ipn.IP
			}
			if v6 == nil {
				v6 = ipn.IP
			}
		}
	}
	return v6
}
