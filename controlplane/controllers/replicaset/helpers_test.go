package replicaset

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fixture is a controller on a fake clientset whose informers are never
// started: tests decide what the listers see (stale or fresh) by filling
// the stores themselves.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	rec      *events.FakeRecorder
	c        *Controller
	rsStore  cache.Indexer
	podStore cache.Indexer
}

func newFixture(t *testing.T, rss ...*appsv1.ReplicaSet) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: clocktesting.NewFakeClock(t0), rec: events.NewFakeRecorder(1000)}
	var objs []runtime.Object
	for _, rs := range rss {
		objs = append(objs, rs)
	}
	f.client = fake.NewClientset(objs...)
	addNamingReactor(f.client, f.clock.Now)
	factory := informers.NewSharedInformerFactory(f.client, 0)
	c, err := New(deps.Deps{Client: f.client, Factory: factory, Recorder: f.rec, Clock: f.clock}, Options{})
	must(t, err, "new controller")
	f.c = c
	f.rsStore = factory.Apps().V1().ReplicaSets().Informer().GetIndexer()
	f.podStore = factory.Core().V1().Pods().Informer().GetIndexer()
	for _, rs := range rss {
		must(t, f.rsStore.Add(rs), "add to cache")
	}
	return f
}

// addNamingReactor makes the fake API fill in what the real one would on
// create: a name from generateName, a UID and a creation time.
func addNamingReactor(client *fake.Clientset, clock func() time.Time) {
	var n, rv atomic.Int64
	client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := meta(a.(k8stesting.CreateAction).GetObject())
		if err != nil {
			return false, nil, err
		}
		if obj.GetName() == "" && obj.GetGenerateName() != "" {
			obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), n.Add(1)))
		}
		if obj.GetUID() == "" {
			obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n.Add(1))))
		}
		if obj.GetCreationTimestamp().Time.IsZero() {
			obj.SetCreationTimestamp(metav1.NewTime(clock()))
		}
		obj.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		return false, nil, nil
	})
	// Like the API server, every write gets a new resourceVersion (the
	// informers' update handlers ignore updates that keep it).
	client.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if obj, ok := a.(k8stesting.UpdateAction).GetObject().(metav1.Object); ok {
			obj.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		}
		return false, nil, nil
	})
}

func meta(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// refresh makes the listers catch up with the API (the fake clientset).
func (f *fixture) refresh() {
	f.t.Helper()
	pods, err := f.client.CoreV1().Pods("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list pods")
	var podObjs []any
	for i := range pods.Items {
		podObjs = append(podObjs, &pods.Items[i])
	}
	must(f.t, f.podStore.Replace(podObjs, ""), "replace pods")
	rss, err := f.client.AppsV1().ReplicaSets("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list replicasets")
	var rsObjs []any
	for i := range rss.Items {
		rsObjs = append(rsObjs, &rss.Items[i])
	}
	must(f.t, f.rsStore.Replace(rsObjs, ""), "replace replicasets")
}

// observe plays the informer's add events for pods the API has and the
// store does not, then refreshes the stores.
func (f *fixture) observe() {
	f.t.Helper()
	pods, err := f.client.CoreV1().Pods("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list pods")
	for i := range pods.Items {
		if _, ok, _ := f.podStore.Get(&pods.Items[i]); !ok {
			f.c.addPod(&pods.Items[i])
		}
	}
	for _, o := range f.podStore.List() {
		p := o.(*corev1.Pod)
		if _, err := f.client.CoreV1().Pods(p.Namespace).Get(f.ctx, p.Name, metav1.GetOptions{}); err != nil {
			f.c.deletePod(p)
		}
	}
	f.refresh()
}

func (f *fixture) sync(name string) error {
	return f.c.sync(f.ctx, "default/"+name)
}

// pods returns the pods in the API, sorted by name.
func (f *fixture) pods() []corev1.Pod {
	f.t.Helper()
	l, err := f.client.CoreV1().Pods("default").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list pods")
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func (f *fixture) podNames() []string {
	var out []string
	for _, p := range f.pods() {
		out = append(out, p.Name)
	}
	return out
}

func (f *fixture) rs(name string) *appsv1.ReplicaSet {
	f.t.Helper()
	rs, err := f.client.AppsV1().ReplicaSets("default").Get(f.ctx, name, metav1.GetOptions{})
	must(f.t, err, "get replicaset")
	return rs
}

// addPods puts pods in both the API and the lister.
func (f *fixture) addPods(pods ...*corev1.Pod) {
	f.t.Helper()
	for _, p := range pods {
		_, err := f.client.CoreV1().Pods(p.Namespace).Create(f.ctx, p, metav1.CreateOptions{})
		must(f.t, err, "create pod")
	}
	f.refresh()
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	lbl := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("rs-" + name), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// podOpt changes a test pod.
type podOpt func(*corev1.Pod)

// newPodFor returns a pod named name that rs controls, created age ago.
func newPodFor(rs *appsv1.ReplicaSet, name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: rs.Namespace, UID: types.UID("pod-" + name),
			Labels:          map[string]string{"app": rs.Spec.Selector.MatchLabels["app"], "tier": "web"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec:   corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func orphan(p *corev1.Pod) { p.OwnerReferences = nil }

func ready(since time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since),
		})
	}
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func unscheduled(p *corev1.Pod) { p.Spec.NodeName = ""; p.Status.Phase = corev1.PodPending }

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func created(at time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}

func terminating(p *corev1.Pod) {
	now := metav1.NewTime(t0)
	p.DeletionTimestamp = &now
}

func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
