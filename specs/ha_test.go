package specs

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var HA = Label("ha")

// bootHALab is bootLab with three API servers behind the virtual IP, and a
// scheduler and a controller manager on each control-plane host.
func bootHALab(ctx context.Context, nodes int) *harness.Lab {
	GinkgoHelper()
	lab, err := harness.Up(ctx, harness.Config{Name: uniqueName("ha"), Nodes: nodes, APIServers: 3, LabBinary: labBinary, FailureLogs: failureLogs()})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(lab.Down(ctx)).To(Succeed()) })
	DeferCleanup(reportOnFailure, lab)
	return lab
}

// leaderHost is the control-plane host whose instance holds a Lease of
// kube-system (kube-scheduler, kube-controller-manager).
func leaderHost(ctx context.Context, cs kubernetes.Interface, lease string) string {
	GinkgoHelper()
	var host string
	Eventually(func(g Gomega) {
		l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(l.Spec.HolderIdentity).NotTo(BeNil())
		host = *l.Spec.HolderIdentity
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	for _, h := range []string{"cp-1", "cp-2", "cp-3"} {
		if len(host) >= len(h) && host[:len(h)] == h {
			return h
		}
	}
	Fail("lease " + lease + " is held by " + host + ", no control-plane host")
	return ""
}

var _ = Describe("High availability", HA, func() {
	It("[claim 14] keeps the API answering when an API server stops, and hands the scheduler and the controllers over when their leader's host goes, acting once", func(ctx SpecContext) {
		lab := bootHALab(ctx, 2)
		cs := clientAs(lab, pki.Admin)

		By("each API server has its own identity Lease, named after its host, as on separate machines")
		Eventually(func(g Gomega) {
			leases, err := cs.CoordinationV1().Leases("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "apiserver.kubernetes.io/identity=kube-apiserver"})
			g.Expect(err).NotTo(HaveOccurred())
			var hosts []string
			for _, l := range leases.Items {
				hosts = append(hosts, l.Labels[corev1.LabelHostname])
			}
			g.Expect(hosts).To(ConsistOf("cp-1", "cp-2", "cp-3"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())

		By("an API server stops while a client writes every 100 ms: writes through the virtual IP go on")
		writes := startWrites(ctx, cs)
		time.Sleep(time.Second)
		stopped := time.Now()
		breakLab(ctx, lab, "apiserver stop 1")
		time.Sleep(5 * time.Second)
		failed, firstOK := writes.stop(stopped)
		AddReportEntry("API server stopped: failed writes, and the first good write after the stop", fmt.Sprintf("%v; %s", failed, firstOK))
		Expect(len(failed)).To(BeNumerically("<=", 1), "writes failed while an API server stopped: %v", failed)
		mend(ctx, lab, "apiserver start 1")

		By("the scheduler leader's host dies (its etcd member, API server, scheduler and controller manager killed), and the controller manager's leader if it ran elsewhere: others take over and act once")
		sched, ctrl := leaderHost(ctx, cs, "kube-scheduler"), leaderHost(ctx, cs, "kube-controller-manager")
		n := int(sched[len(sched)-1] - '0')
		for _, c := range []string{harness.EtcdComponent(n), harness.APIServerComponent(n), harness.SchedulerComponent(n), harness.ControllersComponent(n)} {
			breakLab(ctx, lab, "component kill "+c)
		}
		if ctrl != sched { // a second host would take etcd's quorum with it
			breakLab(ctx, lab, "component kill "+harness.ControllersComponent(int(ctrl[len(ctrl)-1]-'0')))
		}
		cut := time.Now()
		d := deployment("after", 4)
		// A request in flight on a connection to the cut host fails, as
		// it would in any cluster; a client tries again.
		Eventually(func() error {
			_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
		waitEndpointsOf(ctx, cs, "after", 4)
		AddReportEntry("leaders' host killed -> a new Deployment's pods all Running", time.Since(cut).String())
		Expect(leaderHost(ctx, cs, "kube-scheduler")).NotTo(Equal(sched))
		Expect(leaderHost(ctx, cs, "kube-controller-manager")).NotTo(Equal(ctrl))

		By("the old leaders come back as standbys: nothing is made twice")
		Expect(lab.HealAll(ctx)).To(Succeed())
		Consistently(func(g Gomega) {
			all, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=after"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all.Items).To(HaveLen(4))
			rss, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=after"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rss.Items).To(HaveLen(1))
		}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("the controller manager's leader paused: another takes over; resumed, it does not act on its stale view")
		paused := leaderHost(ctx, cs, "kube-controller-manager")
		breakLab(ctx, lab, "component pause "+harness.ControllersComponent(int(paused[len(paused)-1]-'0')))
		scale(ctx, cs, "after", 6)
		waitEndpointsOf(ctx, cs, "after", 6)
		Expect(leaderHost(ctx, cs, "kube-controller-manager")).NotTo(Equal(paused))
		Expect(lab.HealAll(ctx)).To(Succeed())
		Consistently(func(g Gomega) {
			all, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=after"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all.Items).To(HaveLen(6))
		}).WithContext(ctx).WithTimeout(8 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
	}, SpecTimeout(5*time.Minute))
})

// waitEndpointsOf waits until the Deployment name has n Running pods.
func waitEndpointsOf(ctx context.Context, cs kubernetes.Interface, name string, n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		_, pods := podsOf(ctx, cs, name)
		running := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		g.Expect(running).To(Equal(n))
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// writes is a client writing a ConfigMap every 100 ms, noting each result.
type writes struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	log    []writeResult
}

type writeResult struct {
	at  time.Time
	err error
}

func startWrites(ctx context.Context, cs kubernetes.Interface) *writes {
	ctx, cancel := context.WithCancel(ctx)
	w := &writes{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			at := time.Now()
			_, err := write(ctx, cs, fmt.Sprintf("loop-%d-%d", at.UnixNano(), i), i)
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			w.log = append(w.log, writeResult{at, err})
			w.mu.Unlock()
			time.Sleep(time.Until(at.Add(100 * time.Millisecond)))
		}
	}()
	DeferCleanup(func() { cancel(); <-w.done })
	return w
}

// stop ends the loop and returns the failed writes, and how long after
// since the first write that began after since succeeded.
func (w *writes) stop(since time.Time) ([]string, time.Duration) {
	w.cancel()
	<-w.done
	var failed []string
	var firstOK time.Duration = -1
	for _, r := range w.log {
		if r.err != nil {
			failed = append(failed, r.at.Format("15:04:05.000")+" "+r.err.Error())
		} else if firstOK < 0 && r.at.After(since) {
			firstOK = r.at.Sub(since)
		}
	}
	return failed, firstOK
}
