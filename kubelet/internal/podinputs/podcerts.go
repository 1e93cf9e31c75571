package podinputs

import (
	"bytes"
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubernetes/pkg/kubelet/podcertificate"
	"k8s.io/utils/clock"
)

// PodSource is what the pod certificate manager asks of the kubelet's pods.
type PodSource = podcertificate.PodManager

// WatchPodCertificates starts upstream's pod certificate manager (the
// kubelet's own, used as a library): for each podCertificate projected
// volume source of the node's pods, it makes a key pair, creates a
// PodCertificateRequest for the source's signer, watches the node's
// requests for the signer's answer, and asks again before the certificate
// is due to be refreshed. projectedFiles writes what it holds. nodes is the
// caller's started informer of this node's Node. The returned func stops
// the informer of requests; the manager ends with ctx.
func (in *Inputs) WatchPodCertificates(ctx context.Context, pods PodSource, events record.EventRecorder, nodes corev1informers.NodeInformer) (stop func()) {
	requests := informers.NewSharedInformerFactoryWithOptions(in.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", in.cfg.NodeName).String()
	}))
	m := podcertificate.NewIssuingManager(in.client, pods, events, requests.Certificates().V1().PodCertificateRequests(),
		nodes, types.NodeName(in.cfg.NodeName), clock.RealClock{})
	requests.Start(ctx.Done())
	go m.Run(ctx) // returns with ctx
	in.podCertsMu.Lock()
	in.podCerts = m
	in.podCertsMu.Unlock()
	return requests.Shutdown
}

// ForgetPodCertificates drops the keys and certificates of a pod that left
// the node.
func (in *Inputs) ForgetPodCertificates(ctx context.Context, pod *v1.Pod) {
	if m := in.podCertificates(); m != nil {
		m.ForgetPod(ctx, pod)
	}
}

// podCertificates is the pod certificate manager, or nil until
// WatchPodCertificates started it.
func (in *Inputs) podCertificates() podcertificate.Manager {
	in.podCertsMu.RLock()
	defer in.podCertsMu.RUnlock()
	return in.podCerts
}

// podCertificateFiles are a podCertificate source's files, as upstream's
// projected volume writes them: the key, the chain, or both in one
// credential bundle (key first); owner-only under an fsGroup. Until the
// signer answered, the volume cannot be set up (the container waits in
// ContainerCreating and the start is retried soon).
func (in *Inputs) podCertificateFiles(ctx context.Context, pod *v1.Pod, volume string, index int, s *v1.PodCertificateProjection, def *int32) (files, error) {
	m := in.podCertificates()
	if m == nil {
		return nil, setUpFailed(volume, fmt.Errorf("pod certificates are not watched yet"))
	}
	m.TrackPod(ctx, pod) // at once, not at the next refresh pass
	key, chain, err := m.GetPodCertificateCredentialBundle(ctx, pod.Namespace, pod.Name, string(pod.UID), volume, index)
	if err != nil {
		return nil, setUpFailed(volume, err)
	}
	mode := fileMode(nil, def)
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		mode = 0o600
	}
	out := files{}
	if s.CredentialBundlePath != "" {
		out.add(s.CredentialBundlePath, string(bytes.Join([][]byte{key, chain}, nil)), mode)
	}
	if s.KeyPath != "" {
		out.add(s.KeyPath, string(key), mode)
	}
	if s.CertificateChainPath != "" {
		out.add(s.CertificateChainPath, string(chain), mode)
	}
	return out, nil
}
