package etcd_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/kinns/kinns/controlplane/etcd"
)

// Example runs member cp-1 of a lab's cluster until ctx is cancelled. It is
// compiled, not run: it needs the lab's addresses.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hb, el := etcd.Timing(etcd.ProfileFast)
	peers := []etcd.Peer{
		{Name: "cp-1", PeerURL: "https://10.89.0.11:2380"},
		{Name: "cp-2", PeerURL: "https://10.89.0.12:2380"},
		{Name: "cp-3", PeerURL: "https://10.89.0.13:2380"},
	}
	pki := "/var/lib/kinns/demo/pki/etcd/"
	err := etcd.Run(ctx, etcd.Config{
		Name:              "cp-1",
		DataDir:           "/var/lib/kinns/demo/etcd/cp-1",
		ClientURLs:        []string{"https://10.89.0.11:2379", "https://127.0.0.1:2379"},
		PeerURL:           peers[0].PeerURL,
		ClientTLS:         etcd.TLS{CertFile: pki + "server-cp-1.crt", KeyFile: pki + "server-cp-1.key", TrustedCAFile: pki + "ca.crt"},
		PeerTLS:           etcd.TLS{CertFile: pki + "peer-cp-1.crt", KeyFile: pki + "peer-cp-1.key", TrustedCAFile: pki + "ca.crt"},
		InitialCluster:    peers,
		ClusterToken:      "demo",
		HeartbeatInterval: hb,
		ElectionTimeout:   el,
		Log:               slog.New(slog.NewTextHandler(os.Stderr, nil)),
		EtcdLog:           os.Stderr,
	})
	if err != nil {
		slog.Error("etcd member failed", "err", err)
	}

	client := etcd.Client{
		Endpoints: []string{"https://10.89.0.11:2379", "https://10.89.0.12:2379", "https://10.89.0.13:2379"},
		CAFile:    pki + "ca.crt", CertFile: pki + "healthcheck-client.crt", KeyFile: pki + "healthcheck-client.key",
	}
	if err := etcd.HasQuorum(ctx, client, time.Second); errors.Is(err, etcd.ErrNoQuorum) {
		slog.Warn("etcd cannot commit", "err", err)
	}
}
