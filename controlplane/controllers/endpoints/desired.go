package endpoints

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	// SliceManager is the endpointslice.kubernetes.io/managed-by value of the
	// slices this package writes. It is upstream's value, so tools that look
	// for controller-made slices (kubectl, kube-proxy alike) treat ours the
	// same; slices with another manager (the API server's own `kubernetes`
	// slice, mirrored or hand-made ones) are never touched.
	SliceManager = "endpointslice-controller.k8s.io"
	// EndpointsManagedByLabel and EndpointsManager mark the core/v1 Endpoints
	// this package writes, as upstream's endpoints controller does; only those
	// are ever updated or deleted.
	EndpointsManagedByLabel = "endpoints.kubernetes.io/managed-by"
	EndpointsManager        = "endpoint-controller"
	// MaxEndpointsPerSlice is upstream's default slice size.
	MaxEndpointsPerSlice = 100
)

// member is one pod's contribution to a Service for one address family.
type member struct {
	pod                         *corev1.Pod
	ip                          string
	ports                       []port
	ready, serving, terminating bool
}

// members returns the pods that back svc in family, sorted by address. A pod
// takes part when it is bound to a node, has an address of the family and has
// not finished; a terminating pod only when includeTerminating is set.
func members(svc *corev1.Service, pods []*corev1.Pod, family corev1.IPFamily, includeTerminating bool) []member {
	publish := svc.Spec.PublishNotReadyAddresses
	var out []member
	for _, pod := range pods {
		ip := podIP(pod, family)
		terminating := pod.DeletionTimestamp != nil
		if ip == "" || pod.Spec.NodeName == "" || finished(pod) || (terminating && !includeTerminating) {
			continue
		}
		serving := publish || podReady(pod)
		out = append(out, member{
			pod: pod, ip: ip, ports: resolvePorts(svc, pod),
			serving: serving, terminating: terminating,
			ready: publish || (serving && !terminating),
		})
	}
	slices.SortFunc(out, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.ip, b.ip), cmp.Compare(a.pod.Name, b.pod.Name))
	})
	return out
}

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIP is the pod's address of the family, or "".
func podIP(pod *corev1.Pod, family corev1.IPFamily) string {
	ips := []string{pod.Status.PodIP}
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			continue
		}
		if (ip.To4() != nil) == (family == corev1.IPv4Protocol) {
			return s
		}
	}
	return ""
}

// families are the Service's address families, IPv4 when it names none.
func families(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) == 0 {
		return []corev1.IPFamily{corev1.IPv4Protocol}
	}
	return svc.Spec.IPFamilies
}

// hostname is the DNS hostname the pod publishes under a headless Service:
// its spec.hostname when its subdomain is the Service's name.
func hostname(svc *corev1.Service, pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

// ownedLabels are the Service's labels plus the headless marker, which
// kube-proxy-like consumers use to skip headless Services.
func ownedLabels(svc *corev1.Service) map[string]string {
	l := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		l[k] = v
	}
	delete(l, corev1.IsHeadlessService)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[corev1.IsHeadlessService] = ""
	}
	return l
}

// sliceName is stable for a Service, family, port signature and chunk, so a
// sync repeated on a stale cache finds (or collides with) the same slice
// instead of creating a second one.
func sliceName(svc *corev1.Service, family corev1.IPFamily, sig string, chunk int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%d", family, sig, chunk)
	return fmt.Sprintf("%s-%08x", svc.Name, h.Sum32())
}

// controllerRef makes the Service the slice's owner, so deleting the Service
// deletes its slices through the garbage collector as well.
func controllerRef(svc *corev1.Service) metav1.OwnerReference {
	return *metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))
}

func targetRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
}

// groups splits members by port signature, in a stable order.
func groups(ms []member) ([]string, map[string][]member) {
	by := map[string][]member{}
	for _, m := range ms {
		sig := signature(m.ports)
		by[sig] = append(by[sig], m)
	}
	sigs := make([]string, 0, len(by))
	for s := range by {
		sigs = append(sigs, s)
	}
	slices.Sort(sigs)
	return sigs, by
}

// DesiredSlices are the EndpointSlices svc should have given the pods its
// selector matches: per address family, one slice per distinct set of
// resolved ports, split every MaxEndpointsPerSlice endpoints; an empty
// placeholder slice when no pod backs the Service. Terminating pods are
// listed with ready=false, serving as their readiness says, terminating=true.
func DesiredSlices(svc *corev1.Service, pods []*corev1.Pod) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, fam := range families(svc) {
		sigs, by := groups(members(svc, pods, fam, true))
		for _, sig := range sigs {
			ms := by[sig]
			for chunk := 0; chunk*MaxEndpointsPerSlice < len(ms); chunk++ {
				part := ms[chunk*MaxEndpointsPerSlice : min(len(ms), (chunk+1)*MaxEndpointsPerSlice)]
				out = append(out, newSlice(svc, fam, sig, chunk, part))
			}
		}
	}
	if len(out) == 0 {
		out = append(out, newSlice(svc, families(svc)[0], "", 0, nil))
	}
	return out
}

func newSlice(svc *corev1.Service, fam corev1.IPFamily, sig string, chunk int, ms []member) *discoveryv1.EndpointSlice {
	labels := ownedLabels(svc)
	labels[discoveryv1.LabelServiceName] = svc.Name
	labels[discoveryv1.LabelManagedBy] = SliceManager
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: sliceName(svc, fam, sig, chunk), Namespace: svc.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{controllerRef(svc)},
		},
		AddressType: discoveryv1.AddressType(fam),
		Endpoints:   []discoveryv1.Endpoint{},
		Ports:       []discoveryv1.EndpointPort{},
	}
	if len(ms) > 0 {
		for _, p := range ms[0].ports {
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{
				Name: ptr.To(p.name), Protocol: ptr.To(p.protocol), Port: ptr.To(p.number), AppProtocol: p.appProtocol,
			})
		}
	}
	for _, m := range ms {
		s.Endpoints = append(s.Endpoints, sliceEndpoint(svc, m))
	}
	return s
}

func sliceEndpoint(svc *corev1.Service, m member) discoveryv1.Endpoint {
	ep := discoveryv1.Endpoint{
		Addresses: []string{m.ip},
		Conditions: discoveryv1.EndpointConditions{
			Ready: ptr.To(m.ready), Serving: ptr.To(m.serving), Terminating: ptr.To(m.terminating),
		},
		NodeName:  ptr.To(m.pod.Spec.NodeName),
		TargetRef: targetRef(m.pod),
	}
	if h := hostname(svc, m.pod); h != "" {
		ep.Hostname = ptr.To(h)
	}
	return ep
}

// DesiredEndpoints is the core/v1 Endpoints of svc: its primary address
// family only, one subset per distinct set of resolved ports, ready pods in
// addresses and the others in notReadyAddresses. Terminating pods are left
// out unless the Service publishes not-ready addresses, which also puts
// every listed pod in addresses.
func DesiredEndpoints(svc *corev1.Service, pods []*corev1.Pod) *corev1.Endpoints {
	labels := ownedLabels(svc)
	labels[EndpointsManagedByLabel] = EndpointsManager
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: labels}}
	sigs, by := groups(members(svc, pods, families(svc)[0], svc.Spec.PublishNotReadyAddresses))
	for _, sig := range sigs {
		ms := by[sig]
		if len(ms[0].ports) == 0 {
			continue // a pod that serves none of the ports is no endpoint
		}
		ep.Subsets = append(ep.Subsets, subset(svc, ms))
	}
	return ep
}

func subset(svc *corev1.Service, ms []member) corev1.EndpointSubset {
	var s corev1.EndpointSubset
	for _, p := range ms[0].ports {
		s.Ports = append(s.Ports, corev1.EndpointPort{Name: p.name, Port: p.number, Protocol: p.protocol, AppProtocol: p.appProtocol})
	}
	for _, m := range ms {
		a := corev1.EndpointAddress{IP: m.ip, Hostname: hostname(svc, m.pod), NodeName: ptr.To(m.pod.Spec.NodeName), TargetRef: targetRef(m.pod)}
		if m.ready {
			s.Addresses = append(s.Addresses, a)
		} else {
			s.NotReadyAddresses = append(s.NotReadyAddresses, a)
		}
	}
	return s
}
