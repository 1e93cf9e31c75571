package endpoints

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func service(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name}, Ports: ports, ClusterIP: "10.96.0.50",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		},
	}
}

func httpPort(target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: target}
}

type podOpt func(*corev1.Pod)

func pod(name, app, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	now := metav1.NewTime(time.Unix(1000, 0))
	p.DeletionTimestamp = &now
}
func onNode(n string) podOpt          { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func namedPortNumber(n int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = n }
}

type cond struct{ ready, serving, terminating bool }

func conditionsByIP(t *testing.T, slices []*discoveryv1.EndpointSlice) map[string]cond {
	t.Helper()
	out := map[string]cond{}
	for _, s := range slices {
		for _, e := range s.Endpoints {
			out[e.Addresses[0]] = cond{*e.Conditions.Ready, *e.Conditions.Serving, *e.Conditions.Terminating}
		}
	}
	return out
}

func TestDesiredSlicesReadinessAndTerminating(t *testing.T) {
	svc := service("web", httpPort(intstr.FromString("http")))
	pods := []*corev1.Pod{
		pod("ready", "web", "10.244.1.2"),
		pod("unready", "web", "10.244.1.3", notReady),
		pod("leaving", "web", "10.244.2.4", terminating, onNode("node-2")),
		pod("leaving-unready", "web", "10.244.2.5", terminating, notReady),
		pod("no-ip", "web", ""),
		pod("unbound", "web", "10.244.1.9", onNode("")),
		pod("done", "web", "10.244.1.10", phase(corev1.PodSucceeded)),
	}
	got := DesiredSlices(svc, pods)
	if len(got) != 1 {
		t.Fatalf("want one slice, got %d", len(got))
	}
	want := map[string]cond{
		"10.244.1.2": {true, true, false},
		"10.244.1.3": {false, false, false},
		"10.244.2.4": {false, true, true},
		"10.244.2.5": {false, false, true},
	}
	if c := conditionsByIP(t, got); !equalConds(c, want) {
		t.Fatalf("conditions: got %v, want %v", c, want)
	}
	s := got[0]
	if *s.Ports[0].Port != 8080 || *s.Ports[0].Name != "http" || *s.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port: got %+v", s.Ports[0])
	}
	if s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != SliceManager || s.Labels["team"] != "a" {
		t.Errorf("labels: %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != svc.UID || !*s.OwnerReferences[0].Controller {
		t.Errorf("owner: %+v", s.OwnerReferences)
	}
	for _, e := range s.Endpoints {
		if e.Addresses[0] == "10.244.2.4" && (*e.NodeName != "node-2" || e.TargetRef.Name != "leaving") {
			t.Errorf("endpoint of leaving: %+v", e)
		}
		if e.Zone != nil {
			t.Errorf("zone set: %v", *e.Zone)
		}
	}
}

func equalConds(a, b map[string]cond) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDesiredSlicesNamedPortsSplitSlices(t *testing.T) {
	svc := service("web", httpPort(intstr.FromString("http")), corev1.ServicePort{Name: "raw", Port: 9000, TargetPort: intstr.FromInt32(9000)})
	pods := []*corev1.Pod{
		pod("a", "web", "10.244.1.2"),
		pod("b", "web", "10.244.1.3", namedPortNumber(8081)),
		pod("c", "web", "10.244.1.4", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }),
	}
	got := DesiredSlices(svc, pods)
	if len(got) != 3 {
		t.Fatalf("want 3 slices (8080, 8081, only raw), got %d", len(got))
	}
	ports := map[string][]int32{}
	for _, s := range got {
		var ns []int32
		for _, p := range s.Ports {
			ns = append(ns, *p.Port)
		}
		ports[s.Endpoints[0].Addresses[0]] = ns
	}
	want := map[string][]int32{"10.244.1.2": {8080, 9000}, "10.244.1.3": {8081, 9000}, "10.244.1.4": {9000}}
	for ip, w := range want {
		if len(ports[ip]) != len(w) || ports[ip][0] != w[0] {
			t.Errorf("%s: ports %v, want %v", ip, ports[ip], w)
		}
	}
	// Stable names: the same input gives the same slices.
	again := DesiredSlices(svc, pods)
	for i := range got {
		if got[i].Name != again[i].Name {
			t.Errorf("slice name changed: %s vs %s", got[i].Name, again[i].Name)
		}
	}
}

func TestDesiredSlicesSidecarNamedPortAndNumericTarget(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	svc := service("web", httpPort(intstr.FromString("metrics")), corev1.ServicePort{Name: "plain", Port: 81})
	p := pod("a", "web", "10.244.1.2", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: &always,
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}}}
	})
	s := DesiredSlices(svc, []*corev1.Pod{p})[0]
	if len(s.Ports) != 2 || *s.Ports[0].Port != 9100 || *s.Ports[1].Port != 81 {
		t.Fatalf("ports: %+v", s.Ports)
	}
}

func TestDesiredSlicesPublishNotReady(t *testing.T) {
	svc := service("db", httpPort(intstr.FromInt32(5432)))
	svc.Spec.PublishNotReadyAddresses = true
	got := conditionsByIP(t, DesiredSlices(svc, []*corev1.Pod{pod("a", "db", "10.244.1.2", notReady), pod("b", "db", "10.244.1.3", terminating, notReady)}))
	want := map[string]cond{"10.244.1.2": {true, true, false}, "10.244.1.3": {true, true, true}}
	if !equalConds(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDesiredSlicesPlaceholderAndHeadless(t *testing.T) {
	svc := service("empty", httpPort(intstr.FromInt32(80)))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	got := DesiredSlices(svc, nil)
	if len(got) != 1 || len(got[0].Endpoints) != 0 || len(got[0].Ports) != 0 {
		t.Fatalf("want one empty placeholder, got %+v", got)
	}
	if _, ok := got[0].Labels[corev1.IsHeadlessService]; !ok {
		t.Errorf("headless label missing: %v", got[0].Labels)
	}
}

func TestDesiredSlicesChunks(t *testing.T) {
	svc := service("big", httpPort(intstr.FromInt32(80)))
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), "big", fmt.Sprintf("10.244.%d.%d", i/200+1, i%200+2)))
	}
	got := DesiredSlices(svc, pods)
	if len(got) != 3 || len(got[0].Endpoints) != 100 || len(got[2].Endpoints) != 50 {
		t.Fatalf("want 100+100+50, got %d slices", len(got))
	}
}

func TestDesiredEndpoints(t *testing.T) {
	svc := service("web", httpPort(intstr.FromString("http")))
	pods := []*corev1.Pod{
		pod("ready", "web", "10.244.1.2"),
		pod("unready", "web", "10.244.1.3", notReady),
		pod("leaving", "web", "10.244.2.4", terminating),
	}
	ep := DesiredEndpoints(svc, pods)
	if ep.Labels[EndpointsManagedByLabel] != EndpointsManager {
		t.Errorf("labels: %v", ep.Labels)
	}
	if len(ep.Subsets) != 1 {
		t.Fatalf("subsets: %+v", ep.Subsets)
	}
	s := ep.Subsets[0]
	if len(s.Addresses) != 1 || s.Addresses[0].IP != "10.244.1.2" || *s.Addresses[0].NodeName != "node-1" || s.Addresses[0].TargetRef.Name != "ready" {
		t.Errorf("addresses: %+v", s.Addresses)
	}
	if len(s.NotReadyAddresses) != 1 || s.NotReadyAddresses[0].IP != "10.244.1.3" {
		t.Errorf("notReadyAddresses: %+v", s.NotReadyAddresses)
	}
	if len(s.Ports) != 1 || s.Ports[0].Port != 8080 || s.Ports[0].Name != "http" {
		t.Errorf("ports: %+v", s.Ports)
	}

	svc.Spec.PublishNotReadyAddresses = true
	s = DesiredEndpoints(svc, pods).Subsets[0]
	if len(s.Addresses) != 3 || len(s.NotReadyAddresses) != 0 {
		t.Errorf("publishNotReadyAddresses: %d ready, %d not ready", len(s.Addresses), len(s.NotReadyAddresses))
	}
}

func TestHostnameForSubdomain(t *testing.T) {
	svc := service("db", httpPort(intstr.FromInt32(5432)))
	p := pod("db-0", "db", "10.244.1.2", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" })
	s := DesiredSlices(svc, []*corev1.Pod{p})[0]
	if s.Endpoints[0].Hostname == nil || *s.Endpoints[0].Hostname != "db-0" {
		t.Errorf("hostname: %v", s.Endpoints[0].Hostname)
	}
	if DesiredEndpoints(svc, []*corev1.Pod{p}).Subsets[0].Addresses[0].Hostname != "db-0" {
		t.Error("endpoints hostname missing")
	}
}
