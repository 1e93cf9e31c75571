package rules

import (
	"crypto/sha256"
	"encoding/base32"
)

// Prefix starts the name of every chain of ours; Render deletes stale
// chains with it and never touches others.
const Prefix = "KINNS-"

// Top-level chains, declared in every rendering so that the Jumps into
// them always have a target.
const (
	chainServices         = "KINNS-SERVICES"
	chainExternalServices = "KINNS-EXTERNAL-SERVICES"
	chainForward          = "KINNS-FORWARD"
	chainNodePorts        = "KINNS-NODEPORTS"
	chainPostrouting      = "KINNS-POSTROUTING"
	chainMarkMasq         = "KINNS-MARK-MASQ"
)

// masqMark is the packet mark bit that asks KINNS-POSTROUTING to
// masquerade. It must not clash with other users of marks on the node.
const masqMark = "0x4000"

// Per-service-port chain kinds. Each is followed by a hash so that the
// name fits in iptables' 28 characters whatever the Service is called.
const (
	kindSVC = "KINNS-SVC-" // balances over the cluster-wide endpoints
	kindSVL = "KINNS-SVL-" // balances over this node's endpoints only
	kindEXT = "KINNS-EXT-" // traffic to NodePorts, external and LB IPs
	kindFW  = "KINNS-FW-"  // loadBalancerSourceRanges of an LB IP
	kindSEP = "KINNS-SEP-" // one endpoint: hairpin masquerade and DNAT
)

// hashLen keeps KINNS-SVC- plus the hash at 26 characters; 16 base32
// characters are 80 bits, plenty to avoid collisions in one cluster.
const hashLen = 16

// chainName is kind followed by a hash of key. The key must hold
// everything that tells two chains of that kind apart.
func chainName(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return kind + base32.StdEncoding.EncodeToString(sum[:])[:hashLen]
}
