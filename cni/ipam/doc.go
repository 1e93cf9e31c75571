// Package ipam hands out pod addresses from one node's pod range and remembers
// them in a state folder, so that a retried Add or a restarted kubelet gets the
// same address for the same pod.
//
// Allocations are keyed by an ID (the pod UID). They live in one JSON file,
// ipam.json, and every read-modify-write holds an exclusive flock on ipam.lock, so
// two processes (or two Stores in one process) never hand out the same address.
// The network address, the broadcast address and the gateway are never handed
// out. A new address is searched from the one after the last handed out, so a
// freed address is reused only after the range has wrapped around.
//
//	s, err := ipam.Open(ipam.Config{Dir: "/var/lib/kinns/labs/kinns/node-1/ipam",
//		Range: netip.MustParsePrefix("10.244.1.0/24")})
//	ip, fresh, err := s.Allocate(ctx, pod.UID, "default/web-1") // 10.244.1.2, true
//	ip, fresh, err = s.Allocate(ctx, pod.UID, "default/web-1")  // 10.244.1.2, false
//	err = s.Release(ctx, pod.UID)                                // idempotent
package ipam
