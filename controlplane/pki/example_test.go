package pki_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/kinns/kinns/controlplane/pki"
)

func Example() {
	dir, _ := os.MkdirTemp("", "pki-example-")
	defer os.RemoveAll(dir)

	b, err := pki.Generate(context.Background(), pki.Config{
		Lab:   "demo",
		Dir:   dir,
		Nodes: []pki.Node{{Name: "node-1", IP: netip.MustParseAddr("10.89.0.21")}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	node, _ := b.Client(pki.NodeIdentity("node-1"))
	fmt.Println(b.CA.Cert.Subject.CommonName)
	fmt.Println(node.Cert.Subject.CommonName, node.Cert.Subject.Organization)
	if err := pki.WriteKubeconfig(b.Paths.Kubeconfig(pki.Admin), b, pki.Admin, "https://127.0.0.1:6443"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// kinns-demo-ca
	// system:node:node-1 [system:nodes]
}
