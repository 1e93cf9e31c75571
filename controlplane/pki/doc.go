// Package pki makes and keeps a lab's certificates: one CA, the API server's
// serving certificate, a client certificate per component and node, a kubelet
// serving certificate per node, and the service account token key; and, as
// kubeadm does, a second CA for etcd alone, with a serving and a peer
// certificate per member and etcd's client certificates, so that nothing the
// lab CA signs opens etcd; a front proxy CA and the aggregator's client
// certificate, for extension API servers; and the key that encrypts Secrets
// in etcd. Every component authenticates to the API server with its client
// certificate, whose subject is what Kubernetes' RBAC defaults and Node
// authorizer expect.
//
// Generate is idempotent: run it at every lab start; it reuses what is still
// right and replaces the rest (see Generate for the exact rules). Load reads a
// folder without changing it. Kubeconfig renders a kubeconfig for any identity.
//
//	b, err := pki.Generate(ctx, pki.Config{
//		Lab:         "demo",
//		Dir:         "/var/lib/kinns/demo/pki",
//		Nodes:       []pki.Node{{Name: "node-1", IP: netip.MustParseAddr("10.89.0.21")}},
//		EtcdMembers: []pki.EtcdMember{{Name: "cp-1", IP: netip.MustParseAddr("10.89.0.11")}},
//	})
//	if err != nil { ... }
//	// kube-apiserver --tls-cert-file=b.Paths.APIServerCert() --client-ca-file=b.Paths.CACert() ...
//	//   --etcd-cafile=b.Paths.EtcdCACert() --etcd-certfile=b.Paths.EtcdClientCert(pki.EtcdAPIServerClient) ...
//	err = pki.WriteKubeconfig(b.Paths.Kubeconfig(pki.Admin), b, pki.Admin, "https://127.0.0.1:40123")
//
// Files in the folder (keys 0600, everything else 0644, folder 0700); use Paths
// rather than these names:
//
//	ca.crt, ca.key                      lab CA, CN kinns-<lab>-ca
//	apiserver.crt, apiserver.key        API server serving: 127.0.0.1, localhost, 10.89.0.10-13,
//	                                    10.96.0.1, kubernetes[.default[.svc[.cluster.local]]], + extras
//	admin.crt, admin.key                CN kinns-admin, O system:masters
//	apiserver-kubelet-client.crt/.key   CN kube-apiserver-kubelet-client, O system:masters
//	proxy.crt, proxy.key                CN system:kube-proxy
//	scheduler.crt, scheduler.key        CN system:kube-scheduler
//	controller-manager.crt/.key         CN system:kube-controller-manager
//	dns.crt, dns.key                    CN system:coredns
//	cloud-controller-manager.crt/.key   CN system:cloud-controller-manager
//	<node>.crt, <node>.key              CN system:node:<node>, O system:nodes (client)
//	kubelet-<node>.crt/.key             kubelet serving: SANs <node>, the node's IP
//	sa.key, sa.pub                      service account token signing key (ECDSA P-256, PKIX public)
//	encryption.key                      Secrets' encryption key at rest: 32 random bytes, base64
//	front-proxy-ca.crt/.key             front proxy CA, CN kinns-<lab>-front-proxy-ca
//	                                    (kube-apiserver --requestheader-client-ca-file)
//	front-proxy-client.crt/.key         CN front-proxy-client: the aggregator's client
//	                                    certificate to extension API servers
//	etcd/ca.crt, etcd/ca.key            etcd CA, CN kinns-<lab>-etcd-ca
//	etcd/server-<member>.crt/.key       a member's client port: its IP, 127.0.0.1, <member>, localhost
//	etcd/peer-<member>.crt/.key         a member's peer port (serves and dials): the same SANs
//	etcd/apiserver-etcd-client.crt/.key CN kube-apiserver-etcd-client (kube-apiserver --etcd-certfile)
//	etcd/healthcheck-client.crt/.key    CN kinns-etcd-healthcheck-client: the lab's health checks, specs
//	<identity>.kubeconfig               only when a caller writes one (Paths.Kubeconfig)
//	.lock                               serialises Generate across processes
//
// All keys are ECDSA P-256: a 3-node lab's folder is made in milliseconds.
package pki
