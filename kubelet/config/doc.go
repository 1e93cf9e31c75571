// Package config is the kubelet's configuration: Config, its timing
// profiles (TimingsFor with ProfileFast or ProfileKubernetes), the Version
// the kubelet reports, and the defaults and checks that need no kubelet.
// It imports nothing of kinns, so a harness writes kubelet configs (and
// tests read them) without linking the kubelet.
//
//	cfg := config.Config{
//		NodeName: "node-1", NodeIP: "10.89.0.21", PodCIDR: "10.244.1.0/24",
//		ContainerdAddress: "/run/kinns/containerd/containerd.sock", ContainerdNamespace: "kinns-node-1",
//		CgroupParent: "/kinns/kinns/node-1",
//		StateDir:     "/var/lib/kinns/labs/kinns/node-1", LogDir: "/var/lib/kinns/labs/kinns/node-1/pods",
//		Timings:      config.TimingsFor(config.ProfileFast),
//	}
//	cfg.Default()
//	if err := cfg.Validate(); err != nil { … }
package config
