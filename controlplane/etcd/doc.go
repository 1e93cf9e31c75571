// Package etcd runs one member of a lab's three-member etcd cluster, embedded
// with go.etcd.io/etcd/server/v3/embed, and checks the health of a cluster.
//
// Each member runs in its own process inside its host's network namespace;
// the three are started concurrently, since a member serves only once a
// quorum is up. Both its ports take TLS only, and only from holders of a
// certificate of the etcd CA (package pki makes them): anything else in the
// lab, a pod or a node, gets a refused handshake.
//
//	hb, el := etcd.Timing(etcd.ProfileFast)
//	err := etcd.Run(ctx, etcd.Config{          // blocks until ctx is done
//		Name:       "cp-1",
//		DataDir:    "/var/lib/kinns/L/etcd/cp-1",
//		ClientURLs: []string{"https://10.89.0.11:2379", "https://127.0.0.1:2379"}, // gRPC
//		ClientHTTPURLs: []string{"https://10.89.0.11:2381"},                       // /health, /metrics
//		PeerURL:    "https://10.89.0.11:2380",
//		ClientTLS:  etcd.TLS{CertFile: ".../etcd/server-cp-1.crt", KeyFile: "...", TrustedCAFile: ".../etcd/ca.crt"},
//		PeerTLS:    etcd.TLS{CertFile: ".../etcd/peer-cp-1.crt", KeyFile: "...", TrustedCAFile: ".../etcd/ca.crt"},
//		InitialCluster: []etcd.Peer{
//			{Name: "cp-1", PeerURL: "https://10.89.0.11:2380"},
//			{Name: "cp-2", PeerURL: "https://10.89.0.12:2380"},
//			{Name: "cp-3", PeerURL: "https://10.89.0.13:2380"},
//		},
//		ClusterToken:      "L",
//		HeartbeatInterval: hb,
//		ElectionTimeout:   el,
//		Log:               log,
//		EtcdLog:           logFile, // etcd's own JSON log; nil keeps only its errors, in Log
//	})
//
// A member restarted on its data dir rejoins with its old identity and data.
// Callers that need to know whether the cluster can commit ask, with a client
// certificate of the etcd CA:
//
//	c := etcd.Client{Endpoints: endpoints, CAFile: ca, CertFile: cert, KeyFile: key}
//	err := etcd.HasQuorum(ctx, c, time.Second)
//	if errors.Is(err, etcd.ErrNoQuorum) { ... }
//	statuses, _ := etcd.ClusterStatus(ctx, c, time.Second) // leader, term, db size
//
// A caller that asks every few hundred milliseconds (the API server's quorum
// guard) keeps one client with NewQuorumChecker and calls Check.
package etcd
