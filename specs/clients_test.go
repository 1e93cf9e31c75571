package specs

import (
	"context"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// clientAs is a clientset for the lab with the certificate of id.
func clientAs(lab *harness.Lab, id pki.Identity) kubernetes.Interface {
	GinkgoHelper()
	rc, err := lab.RESTConfigAs(id)
	Expect(err).NotTo(HaveOccurred())
	rc.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	Expect(err).NotTo(HaveOccurred())
	return cs
}

// etcdFrom is a raw etcd client whose connections start inside host's
// namespace, with the lab's etcd client certificate: the spec reads the store
// itself, not through the API.
func etcdFrom(lab *harness.Lab, host string) *clientv3.Client {
	h, err := lab.Host(host)
	Expect(err).NotTo(HaveOccurred())
	tlsCfg, err := lab.EtcdClientTLS()
	Expect(err).NotTo(HaveOccurred())
	dial := netns.DialContext(netns.Path(h.Netns))
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   lab.EtcdEndpoints(),
		TLS:         tlsCfg,
		DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})},
	})
	Expect(err).NotTo(HaveOccurred())
	return c
}
