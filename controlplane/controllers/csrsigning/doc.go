// Package csrsigning signs approved CertificateSigningRequests with the
// lab's CA, for the signers whose certificates that CA's holders trust:
// kubernetes.io/kube-apiserver-client (clients of the API server),
// kubernetes.io/kube-apiserver-client-kubelet (kubelets' client
// certificates), kubernetes.io/kubelet-serving (kubelets' serving
// certificates) and kubernetes.io/legacy-unknown, as kube-controller-manager
// does with one --cluster-signing-cert-file and --cluster-signing-key-file.
//
// The work is upstream's CSR signing controllers
// (k8s.io/kubernetes/pkg/controller/certificates/signer, v1.37.2), one per
// signer, imported as a library; each checks that a request fits its signer
// (usages, subject) before it signs, and reloads the CA files when they
// change.
//
// # Example
//
//	c, err := csrsigning.New(deps.Deps{Client: client, Factory: factory, Log: log},
//		csrsigning.Options{CertFile: "/var/lib/kinns/labs/L/pki/ca.crt", KeyFile: "/var/lib/kinns/labs/L/pki/ca.key"})
//	factory.Start(ctx.Done())
//	c.Run(ctx, csrsigning.Workers)
package csrsigning
