package deployment

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
	"k8s.io/apimachinery/pkg/util/intstr"
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
// started: before each sync the stores are refreshed from the fake API, and
// the tests play the ReplicaSet controller and kubelets themselves.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	rec      *events.FakeRecorder
	c        *Controller
	dStore   cache.Indexer
	rsStore  cache.Indexer
	podStore cache.Indexer
}

func newFixture(t *testing.T, d *appsv1.Deployment, rss ...*appsv1.ReplicaSet) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: clocktesting.NewFakeClock(t0), rec: events.NewFakeRecorder(1000)}
	objs := []runtime.Object{d}
	for _, rs := range rss {
		objs = append(objs, rs)
	}
	f.client = fake.NewClientset(objs...)
	addAPIReactors(f.client, f.clock.Now)
	factory := informers.NewSharedInformerFactory(f.client, 0)
	c, err := New(deps.Deps{Client: f.client, Factory: factory, Recorder: f.rec, Clock: f.clock}, Options{})
	must(t, err, "new controller")
	f.c = c
	f.dStore = factory.Apps().V1().Deployments().Informer().GetIndexer()
	f.rsStore = factory.Apps().V1().ReplicaSets().Informer().GetIndexer()
	f.podStore = factory.Core().V1().Pods().Informer().GetIndexer()
	return f
}

// addAPIReactors makes the fake API behave like the real one where the
// controller depends on it. On create: a name from generateName, a UID, a
// creation time, generation 1.
func addAPIReactors(client *fake.Clientset, now func() time.Time) {
	var n, rv atomic.Int64
	client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		if obj.GetName() == "" && obj.GetGenerateName() != "" {
			obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), n.Add(1)))
		}
		if obj.GetUID() == "" {
			obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n.Add(1))))
		}
		if obj.GetCreationTimestamp().Time.IsZero() {
			obj.SetCreationTimestamp(metav1.NewTime(now()))
		}
		if obj.GetGeneration() == 0 {
			obj.SetGeneration(1)
		}
		obj.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		return false, nil, nil
	})
	// Like the API server, every write gets a new resourceVersion (the
	// informers' update handlers ignore updates that keep it), a status
	// write changes only status (and, for deployments, annotations), and
	// a plain update keeps the stored status.
	client.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		obj, ok := ua.GetObject().(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		obj.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		stored, err := client.Tracker().Get(ua.GetResource(), ua.GetNamespace(), obj.GetName())
		if err != nil {
			return false, nil, nil // let the tracker report it
		}
		merged, ok := mergeSubresource(stored, ua.GetObject(), ua.GetSubresource() == "status")
		if !ok {
			return false, nil, nil
		}
		if err := client.Tracker().Update(ua.GetResource(), merged, ua.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, merged, nil
	})
}

// mergeSubresource returns what the API server would store when sent is
// written over stored, through the status subresource or not.
func mergeSubresource(stored, sent runtime.Object, status bool) (runtime.Object, bool) {
	switch s := sent.(type) {
	case *appsv1.Deployment:
		out := s.DeepCopy()
		st := stored.(*appsv1.Deployment)
		if status {
			out.Spec, out.Labels = st.Spec, st.Labels
		} else {
			out.Status = st.Status
		}
		return out, true
	case *appsv1.ReplicaSet:
		out := s.DeepCopy()
		st := stored.(*appsv1.ReplicaSet)
		if status {
			out.Spec = st.Spec
		} else {
			out.Status = st.Status
		}
		return out, true
	case *corev1.Pod:
		out := s.DeepCopy()
		st := stored.(*corev1.Pod)
		if status {
			out.Spec = st.Spec
		} else {
			out.Status = st.Status
		}
		return out, true
	}
	return nil, false
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// refresh makes the listers catch up with the fake API.
func (f *fixture) refresh() {
	f.t.Helper()
	ds, err := f.client.AppsV1().Deployments("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list deployments")
	rss, err := f.client.AppsV1().ReplicaSets("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list replicasets")
	pods, err := f.client.CoreV1().Pods("").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list pods")
	var dObjs, rsObjs, podObjs []any
	for i := range ds.Items {
		dObjs = append(dObjs, &ds.Items[i])
	}
	for i := range rss.Items {
		rsObjs = append(rsObjs, &rss.Items[i])
	}
	for i := range pods.Items {
		podObjs = append(podObjs, &pods.Items[i])
	}
	must(f.t, f.dStore.Replace(dObjs, ""), "replace deployments")
	must(f.t, f.rsStore.Replace(rsObjs, ""), "replace replicasets")
	must(f.t, f.podStore.Replace(podObjs, ""), "replace pods")
}

// sync refreshes the listers and syncs the deployment "web".
func (f *fixture) sync() error {
	f.refresh()
	return f.c.sync(f.ctx, "default/web")
}

func (f *fixture) mustSync() {
	f.t.Helper()
	must(f.t, f.sync(), "sync")
}

func (f *fixture) d() *appsv1.Deployment {
	f.t.Helper()
	d, err := f.client.AppsV1().Deployments("default").Get(f.ctx, "web", metav1.GetOptions{})
	must(f.t, err, "get deployment")
	return d
}

// rss returns the ReplicaSets in the API, oldest first.
func (f *fixture) rss() []*appsv1.ReplicaSet {
	f.t.Helper()
	l, err := f.client.AppsV1().ReplicaSets("default").List(f.ctx, metav1.ListOptions{})
	must(f.t, err, "list replicasets")
	var out []*appsv1.ReplicaSet
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	sort.SliceStable(out, func(i, j int) bool { return older(out[i], out[j]) })
	return out
}

// newest returns the ReplicaSet matching the deployment's template.
func (f *fixture) current() *appsv1.ReplicaSet {
	f.t.Helper()
	rs := findNewRS(f.d(), f.rss())
	if rs == nil {
		f.t.Fatal("no ReplicaSet matches the deployment's template")
	}
	return rs
}

// update changes the deployment as a user would; like the API server, a
// spec or annotation change bumps the generation.
func (f *fixture) update(change func(d *appsv1.Deployment)) {
	f.t.Helper()
	d := f.d()
	change(d)
	d.Generation++
	_, err := f.client.AppsV1().Deployments("default").Update(f.ctx, d, metav1.UpdateOptions{})
	must(f.t, err, "update deployment")
	f.clock.Step(time.Second) // so a new ReplicaSet is strictly newer
}

// replicaSets plays the ReplicaSet controller and kubelets: every set has
// exactly spec.replicas pods; pods removed are the unavailable ones first;
// new pods become available only when ready is true (then every pod is).
func (f *fixture) replicaSets(ready bool) {
	f.t.Helper()
	for _, rs := range f.rss() {
		n := rsReplicas(rs)
		st := &rs.Status
		st.Replicas = n
		st.FullyLabeledReplicas = n
		if ready {
			st.AvailableReplicas = n
		} else {
			st.AvailableReplicas = min(st.AvailableReplicas, n)
		}
		st.ReadyReplicas = st.AvailableReplicas
		st.ObservedGeneration = rs.Generation
		_, err := f.client.AppsV1().ReplicaSets("default").UpdateStatus(f.ctx, rs, metav1.UpdateOptions{})
		must(f.t, err, "update replicaset status")
	}
}

// runToCompletion alternates syncs and simulated pods until kubectl rollout
// status would succeed, calling check after every change.
func (f *fixture) runToCompletion(check func(step string)) int {
	f.t.Helper()
	for i := range 100 {
		f.mustSync()
		check(fmt.Sprintf("step %d after sync", i))
		f.replicaSets(false)
		check(fmt.Sprintf("step %d after pods changed", i))
		f.mustSync()
		check(fmt.Sprintf("step %d after second sync", i))
		f.replicaSets(true)
		f.clock.Step(time.Second)
		check(fmt.Sprintf("step %d after pods ready", i))
		f.mustSync()
		if _, done, err := rolloutStatus(f.d()); err == nil && done {
			return i
		}
	}
	f.t.Fatalf("rollout did not complete in 100 steps: status %+v", f.d().Status)
	return -1
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

// rolloutStatus is what kubectl rollout status (k8s.io/kubectl v0.37
// DeploymentStatusViewer) decides for a deployment: done, still waiting
// (with the reason), or failed on the progress deadline.
func rolloutStatus(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the spec to be observed", false, nil
	}
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c != nil && c.Reason == ReasonTimedOut {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
	}
	switch {
	case d.Spec.Replicas != nil && d.Status.UpdatedReplicas < *d.Spec.Replicas:
		return "new replicas not all updated", false, nil
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return "old replicas pending termination", false, nil
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return "updated replicas not all available", false, nil
	}
	return "successfully rolled out", true, nil
}

type dOpt func(*appsv1.Deployment)

// newDeployment is a defaulted deployment "web" as the API server would
// store it.
func newDeployment(replicas int32, opts ...dOpt) *appsv1.Deployment {
	lbl := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-web", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:v1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: ptr(intstr.FromString("25%")), MaxUnavailable: ptr(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func rolling(surge, unavailable intstr.IntOrString) dOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
		}
	}
}

func recreate(d *appsv1.Deployment) {
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
}

func image(v string) func(d *appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = v }
}

func scaleTo(n int32) func(d *appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Replicas = &n }
}

// rolledOut returns a fixture whose deployment has fully rolled out.
func rolledOut(t *testing.T, d *appsv1.Deployment) *fixture {
	t.Helper()
	f := newFixture(t, d)
	f.runToCompletion(func(string) {})
	f.events()
	return f
}
