package specs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var workloadsLabel = Label("workloads")

// kubectlPath is a stock kubectl, if this machine has one: $KINNS_KUBECTL,
// else the one the tools cache keeps.
func kubectlPath() string {
	if p := os.Getenv("KINNS_KUBECTL"); p != "" {
		return p
	}
	return "/root/.cache/kinns-tools/kubectl-v0.37.2"
}

// kubectl runs a stock kubectl against the lab as its admin and returns its
// combined output.
func kubectl(ctx context.Context, lab *harness.Lab, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectlPath(), append([]string{"--kubeconfig", lab.KubeconfigPath()}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// appPods lists the pods in default with label app=app.
func appPods(ctx context.Context, g Gomega, cs kubernetes.Interface, app string) []corev1.Pod {
	l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	g.Expect(err).NotTo(HaveOccurred())
	return l.Items
}

// nodesOf returns the nodes of the running pods among pods, sorted.
func nodesOf(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p.Spec.NodeName)
		}
	}
	slices.Sort(out)
	return out
}

// appTemplate is a pod template of the test image, labelled app=app, that
// serves and is ready at once.
func appTemplate(app string, args ...string) corev1.PodTemplateSpec {
	p := testPod(app, args...)
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: p.Spec}
}

// jobOf is a Job of the test image running args.
func jobOf(name string, completions, parallelism, backoff int32, args ...string) *batchv1.Job {
	tmpl := appTemplate(name, args...)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoff, Template: tmpl}}
}

// jobCondition is the Job's condition of type t that is True, if any.
func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// taintNode adds (or, with add false, removes) the taint hold=true:NoSchedule.
func taintNode(ctx context.Context, cs kubernetes.Interface, node string, add bool) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		hold := corev1.Taint{Key: "kinns.test/hold", Value: "true", Effect: corev1.TaintEffectNoSchedule}
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == hold.Key })
		if add {
			n.Spec.Taints = append(n.Spec.Taints, hold)
		}
		_, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
}

var _ = Describe("Workload controllers", workloadsLabel, Ordered, func() {
	var (
		lab         *harness.Lab
		cs          kubernetes.Interface
		cronCreated time.Time
	)

	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 3)
		cs = clientAs(lab, pki.Admin)
		// The CronJob is made first and checked last: its first Job comes at
		// the next whole minute, while the other specs run.
		tmpl := appTemplate("tick", "env")
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick"}, Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent, SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
		_, err := cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		cronCreated = time.Now()
	}, NodeTimeout(2*time.Minute))

	It("runs a DaemonSet's pod on every node, and on a node once it takes pods again", func(ctx SpecContext) {
		taintNode(ctx, cs, "node-3", true)
		DeferCleanup(func(ctx SpecContext) { taintNode(ctx, cs, "node-3", false) })
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: appTemplate("agent")}}
		_, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.AppsV1().DaemonSets("default").Delete(ctx, "agent", metav1.DeleteOptions{}) })
		Eventually(func(g Gomega) []string { return nodesOf(appPods(ctx, g, cs, "agent")) }).WithContext(ctx).
			WithTimeout(30*time.Second).Should(Equal([]string{"node-1", "node-2"}), "one pod on each node but the tainted one")
		Eventually(func(g Gomega) {
			got, err := cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.DesiredNumberScheduled).To(BeEquivalentTo(2))
			g.Expect(got.Status.NumberReady).To(BeEquivalentTo(2))
		}).WithContext(ctx).WithTimeout(15 * time.Second).Should(Succeed())

		taintNode(ctx, cs, "node-3", false)
		Eventually(func(g Gomega) []string { return nodesOf(appPods(ctx, g, cs, "agent")) }).WithContext(ctx).
			WithTimeout(30*time.Second).Should(Equal([]string{"node-1", "node-2", "node-3"}), "node-3 gets its pod once untainted")
	}, SpecTimeout(90*time.Second))

	It("brings a StatefulSet up in order, with stable names that resolve, and brings back a deleted replica under its name with its data", func(ctx SpecContext) {
		createService(ctx, cs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}}}})
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		Expect(err).NotTo(HaveOccurred())
		defer w.Stop()
		set := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](3), ServiceName: "web", PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: appTemplate("web"),
			// As the upstream tutorial's: a claim per replica, of the default class.
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}}
		set.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "www", MountPath: "/data"}}
		_, err = cs.AppsV1().StatefulSets("default").Create(ctx, set, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.AppsV1().StatefulSets("default").Delete(ctx, "web", metav1.DeleteOptions{}) })

		order := watchOrder(ctx, w, 3)
		Expect(order).To(HaveLen(6), "each replica created and Ready: %v", order)
		for i := range 2 {
			ready, next := fmt.Sprintf("ready web-%d", i), fmt.Sprintf("created web-%d", i+1)
			Expect(slices.Index(order, ready)).To(BeNumerically("<", slices.Index(order, next)), "%s before %s: %v", ready, next, order)
		}
		pods := map[string]*corev1.Pod{}
		for i := range 3 {
			name := fmt.Sprintf("web-%d", i)
			pods[name] = waitFor(ctx, cs, name, 10*time.Second, beReady)
			Expect(pods[name].Spec.Hostname).To(Equal(name))
			Expect(pods[name].Spec.Subdomain).To(Equal("web"))
		}
		Eventually(func() []string {
			return resolve(ctx, lab, cs, "web-1", "web-0.web.default.svc.cluster.local")
		}).WithContext(ctx).WithTimeout(20*time.Second).Should(Equal([]string{pods["web-0"].Status.PodIP}), "web-0 by its stable name")

		By("each replica has its own claim, bound; web-1 keeps its data across its deletion")
		for i := range 3 {
			claim, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, fmt.Sprintf("www-web-%d", i), metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(claim.Status.Phase).To(Equal(corev1.ClaimBound))
		}
		_, err = execIn(ctx, lab, cs, "web-1", "/testapp", "write", "/data/name", "web-1's data")
		Expect(err).NotTo(HaveOccurred())
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "web-1", metav1.DeleteOptions{})).To(Succeed())
		back := waitFor(ctx, cs, "web-1", 30*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.UID).NotTo(Equal(pods["web-1"].UID), "a new pod")
			beReady(g, p)
		})
		Expect(back.Spec.Hostname).To(Equal("web-1"))
		Expect(back.Spec.NodeName).To(Equal(pods["web-1"].Spec.NodeName), "back on the node of its volume")
		out, err := execIn(ctx, lab, cs, "web-1", "/testapp", "cat", "/data/name")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(Equal("web-1's data"))
	}, SpecTimeout(2*time.Minute))

	It("runs a Job of 4 completions 2 at a time to Complete, fails one at its backoff limit, and removes a finished Job with a TTL of 0", func(ctx SpecContext) {
		jobs := cs.BatchV1().Jobs("default")
		ok := jobOf("four", 4, 2, 6, "env")
		bad := jobOf("broken", 1, 1, 1, "no-such-mode") // testapp exits 2
		short := jobOf("short", 1, 1, 6, "env")
		short.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
		for _, j := range []*batchv1.Job{ok, bad, short} {
			_, err := jobs.Create(ctx, j, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) {
				jobs.Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
			})
		}
		Eventually(func(g Gomega) {
			got, err := jobs.Get(ctx, "four", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Active).To(BeNumerically("<=", 2), "never more than parallelism at once")
			g.Expect(jobCondition(got, batchv1.JobComplete)).NotTo(BeNil(), "status %+v", got.Status)
			g.Expect(got.Status.Succeeded).To(BeEquivalentTo(4))
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Eventually(func(g Gomega) {
			got, err := jobs.Get(ctx, "broken", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			c := jobCondition(got, batchv1.JobFailed)
			g.Expect(c).NotTo(BeNil(), "status %+v", got.Status)
			g.Expect(c.Reason).To(Equal("BackoffLimitExceeded"))
			g.Expect(got.Status.Failed).To(BeEquivalentTo(2), "the first try and one retry")
		}).WithContext(ctx).WithTimeout(60 * time.Second).Should(Succeed())
		Eventually(func() error {
			_, err := jobs.Get(ctx, "short", metav1.GetOptions{})
			return err
		}).WithContext(ctx).WithTimeout(30*time.Second).Should(Satisfy(apierrors.IsNotFound), "the finished Job with TTL 0 deleted")
	}, SpecTimeout(2*time.Minute))

	It("stops kubectl drain and evictions at a PodDisruptionBudget that allows no disruption", func(ctx SpecContext) {
		tmpl := appTemplate("guarded")
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "guarded"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl}}
		_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.AppsV1().Deployments("default").Delete(ctx, "guarded", metav1.DeleteOptions{})
		})
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded"}, Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: d.Spec.Selector}}
		_, err = cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.PolicyV1().PodDisruptionBudgets("default").Delete(ctx, "guarded", metav1.DeleteOptions{})
		})
		Eventually(func(g Gomega) {
			got, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "guarded", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.CurrentHealthy).To(BeEquivalentTo(2), "status %+v", got.Status)
			g.Expect(got.Status.DisruptionsAllowed).To(BeEquivalentTo(0))
		}).WithContext(ctx).WithTimeout(40 * time.Second).Should(Succeed())
		var victim corev1.Pod
		Eventually(func(g Gomega) {
			pods := appPods(ctx, g, cs, "guarded")
			g.Expect(nodesOf(pods)).To(HaveLen(2))
			victim = pods[0]
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())

		err = cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: victim.Name, Namespace: "default"}})
		Expect(apierrors.IsTooManyRequests(err)).To(BeTrue(), "eviction answered %v", err)
		Expect(err.Error()).To(ContainSubstring("Cannot evict pod as it would violate the pod's disruption budget."))

		if _, err := os.Stat(kubectlPath()); err != nil {
			Skip("no kubectl at " + kubectlPath() + " (set KINNS_KUBECTL): the eviction API was checked, kubectl drain was not")
		}
		node := victim.Spec.NodeName
		DeferCleanup(func(ctx SpecContext) { kubectl(ctx, lab, "uncordon", node) })
		out, err := kubectl(ctx, lab, "drain", node, "--ignore-daemonsets", "--pod-selector", "app=guarded", "--timeout", "8s")
		Expect(err).To(HaveOccurred(), "kubectl drain succeeded:\n%s", out)
		Expect(out).To(ContainSubstring("Cannot evict pod as it would violate the pod's disruption budget."))
		Expect(out).To(ContainSubstring("node/%s cordoned", node))
		Expect(cs.CoreV1().Pods("default").Get(ctx, victim.Name, metav1.GetOptions{})).
			To(HaveField("DeletionTimestamp", BeNil()), "the guarded pod still runs")
	}, SpecTimeout(90*time.Second))

	It("refuses the pod over a ResourceQuota with upstream's message", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quota"}}
		_, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Namespaces().Delete(ctx, "quota", metav1.DeleteOptions{}) })
		q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "one-pod"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
		_, err = cs.CoreV1().ResourceQuotas("quota").Create(ctx, q, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got, err := cs.CoreV1().ResourceQuotas("quota").Get(ctx, "one-pod", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Hard).To(HaveKey(corev1.ResourcePods), "the controller wrote the status")
			_, err = cs.CoreV1().ServiceAccounts("quota").Get(ctx, "default", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
		}).WithContext(ctx).WithTimeout(20 * time.Second).Should(Succeed())
		pods := cs.CoreV1().Pods("quota")
		_, err = pods.Create(ctx, testPod("first"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = pods.Create(ctx, testPod("second"), metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "second pod: %v", err)
		var status apierrors.APIStatus
		Expect(err).To(BeAssignableToTypeOf(&apierrors.StatusError{}))
		status = err.(apierrors.APIStatus)
		Expect(status.Status().Code).To(BeEquivalentTo(403))
		Expect(status.Status().Message).To(Equal(`pods "second" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1`))
	}, SpecTimeout(60*time.Second))

	It("runs a ReplicationController's 2 pods", func(ctx SpecContext) {
		tmpl := appTemplate("legacy")
		rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To[int32](2), Selector: tmpl.Labels, Template: &tmpl}}
		_, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.CoreV1().ReplicationControllers("default").Delete(ctx, "legacy", metav1.DeleteOptions{})
		})
		Eventually(func(g Gomega) {
			got, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "legacy", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.ReadyReplicas).To(BeEquivalentTo(2))
			g.Expect(nodesOf(appPods(ctx, g, cs, "legacy"))).To(HaveLen(2))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	}, SpecTimeout(60*time.Second))

	It("runs a CronJob's Job at the next whole minute", func(ctx SpecContext) {
		DeferCleanup(func(ctx SpecContext) {
			cs.BatchV1().CronJobs("default").Delete(ctx, "tick", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		})
		var job batchv1.Job
		Eventually(func(g Gomega) {
			l, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			i := slices.IndexFunc(l.Items, func(j batchv1.Job) bool {
				ref := metav1.GetControllerOf(&j)
				return ref != nil && ref.Kind == "CronJob" && ref.Name == "tick" && jobCondition(&j, batchv1.JobComplete) != nil
			})
			g.Expect(i).To(BeNumerically(">=", 0), "no complete Job of the CronJob yet")
			job = l.Items[i]
		}).WithContext(ctx).WithTimeout(100 * time.Second).WithPolling(time.Second).Should(Succeed())
		AddReportEntry("cronjob", fmt.Sprintf("first Job complete %s after the CronJob was created", time.Since(cronCreated).Round(time.Second)))
		got, err := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Status.LastScheduleTime).NotTo(BeNil())
		Expect(job.Name).To(HavePrefix("tick-"))
	}, SpecTimeout(2*time.Minute))
})

// watchOrder reads pod events from w until n pods have been Ready and
// returns what happened, in order: "created NAME" and "ready NAME", each
// once.
func watchOrder(ctx context.Context, w watch.Interface, n int) []string {
	GinkgoHelper()
	var order []string
	seen := map[string]bool{}
	note := func(what string) {
		if !seen[what] {
			seen[what] = true
			order = append(order, what)
		}
	}
	ready := map[types.UID]bool{}
	timeout := time.After(90 * time.Second)
	for len(ready) < n {
		select {
		case ev, ok := <-w.ResultChan():
			Expect(ok).To(BeTrue(), "the watch ended: %v", order)
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			note("created " + p.Name)
			if podReady(p) {
				ready[p.UID] = true
				note("ready " + p.Name)
			}
		case <-timeout:
			Fail(fmt.Sprintf("not %d Ready replicas in 90 s: %v", n, order))
		case <-ctx.Done():
			Fail(fmt.Sprintf("interrupted: %v", order))
		}
	}
	return order
}
