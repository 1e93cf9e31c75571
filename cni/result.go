package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
)

// Result is a pod's network as Add made it.
type Result struct {
	// IP is the pod's address; Prefix is the same address with the pod range's mask.
	IP     netip.Addr
	Prefix netip.Prefix
	// Gateway is the pod's default route.
	Gateway netip.Addr
	// HostVeth is the veth end in the node namespace, a port of the bridge.
	HostVeth string
	// Interface is the pod's end, always PodInterface.
	Interface string
	// MAC is Interface's hardware address.
	MAC net.HardwareAddr
	// NetnsPath is the pod's network namespace file.
	NetnsPath string
}

// HostVethName is the node-side veth name of the pod with this UID: "veth" and 8
// hex digits of the UID's SHA-256, 12 bytes, within IFNAMSIZ.
func HostVethName(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return "veth" + hex.EncodeToString(sum[:4])
}
