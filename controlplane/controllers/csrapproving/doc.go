// Package csrapproving approves the CertificateSigningRequests of kubelets
// for their client certificates (signer
// kubernetes.io/kube-apiserver-client-kubelet): a node's own renewal when
// the requester may create certificatesigningrequests/selfnodeclient, a new
// node's when it may create certificatesigningrequests/nodeclient, each
// asked of the API server with a SubjectAccessReview. Anything else waits
// for a person (`kubectl certificate approve`).
//
// The work is upstream's CSR approving controller
// (k8s.io/kubernetes/pkg/controller/certificates/approver, v1.37.2),
// imported as a library.
//
// # Example
//
//	c, err := csrapproving.New(deps.Deps{Client: client, Factory: factory, Log: log}, csrapproving.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, csrapproving.Workers)
package csrapproving
