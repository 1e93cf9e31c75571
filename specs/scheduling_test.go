package specs

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kinns/kinns/controlplane/pki"
)

var (
	Scheduling  = Label("scheduling")
	Controllers = Label("controllers")
)

// specPriorityClasses makes the PriorityClasses spec-low (10) and spec-high
// (1000) of the preemption specs.
func specPriorityClasses(ctx context.Context, cs kubernetes.Interface) {
	GinkgoHelper()
	for name, value := range map[string]int32{"spec-low": 10, "spec-high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		_, err := cs.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
	}
}

func withCPU(p *corev1.Pod, cpu string) *corev1.Pod {
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	return p
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	p := testPod(name)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: p.Spec},
		},
	}
}

// podsOf lists the running, not terminating pods with label app=name, by node.
func podsOf(ctx context.Context, cs kubernetes.Interface, name string) (map[string]int, []corev1.Pod) {
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	Expect(err).NotTo(HaveOccurred())
	byNode := map[string]int{}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			byNode[p.Spec.NodeName]++
			live = append(live, p)
		}
	}
	return byNode, live
}

func readyCount(pods []corev1.Pod) int {
	n := 0
	for i := range pods {
		if podReady(&pods[i]) {
			n++
		}
	}
	return n
}

var _ = Describe("The scheduler", Scheduling, func() {
	It("[claim 3] places pods by requests, nodeSelector, taints and anti-affinity, and explains an impossible pod", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)

		By("a nodeSelector picks the labelled node")
		patch := []byte(`{"metadata":{"labels":{"disk":"ssd"}}}`)
		_, err := cs.CoreV1().Nodes().Patch(ctx, "node-2", types.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		sel := testPod("picky")
		sel.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		create(ctx, cs, sel)
		waitFor(ctx, cs, "picky", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Spec.NodeName).To(Equal("node-2")) })

		By("a taint keeps pods off unless they tolerate it")
		taint := []byte(`{"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]}}`)
		for _, n := range []string{"node-1", "node-2"} {
			_, err := cs.CoreV1().Nodes().Patch(ctx, n, types.MergePatchType, taint, metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		for i := range 3 {
			create(ctx, cs, testPod(fmt.Sprintf("plain-%d", i)))
			waitFor(ctx, cs, fmt.Sprintf("plain-%d", i), time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Spec.NodeName).To(Equal("node-3")) })
		}
		tol := testPod("tolerant")
		tol.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		tol.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		create(ctx, cs, tol)
		waitFor(ctx, cs, "tolerant", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Spec.NodeName).To(Equal("node-2")) })
		for _, n := range []string{"node-1", "node-2"} {
			_, err := cs.CoreV1().Nodes().Patch(ctx, n, types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}

		By("requests count against each node's own allocatable cpu")
		for i := range 3 {
			create(ctx, cs, withCPU(testPod(fmt.Sprintf("big-%d", i)), "1500m"))
		}
		nodes := map[string]bool{}
		for i := range 3 {
			p := waitFor(ctx, cs, fmt.Sprintf("big-%d", i), time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Spec.NodeName).NotTo(BeEmpty()) })
			nodes[p.Spec.NodeName] = true
		}
		Expect(nodes).To(HaveLen(3), "one 1.5-cpu pod per 2-cpu node")

		By("an impossible pod stays Pending with the reason")
		create(ctx, cs, withCPU(testPod("too-big"), "1500m"))
		waitFor(ctx, cs, "too-big", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			var cond *corev1.PodCondition
			for i := range p.Status.Conditions {
				if p.Status.Conditions[i].Type == corev1.PodScheduled {
					cond = &p.Status.Conditions[i]
				}
			}
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal("Unschedulable"))
			g.Expect(cond.Message).To(ContainSubstring("0/3 nodes are available: 3 Insufficient cpu."))
		})
		Eventually(func() bool {
			evs, err := cs.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			for _, e := range evs.Items {
				if e.Regarding.Name == "too-big" && e.Reason == "FailedScheduling" {
					return true
				}
			}
			return false
		}).WithContext(ctx).WithTimeout(20 * time.Second).Should(BeTrue())

		By("it is placed as soon as room is made")
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "big-0", metav1.DeleteOptions{})).To(Succeed())
		waitFor(ctx, cs, "too-big", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Spec.NodeName).NotTo(BeEmpty()) })
	}, SpecTimeout(5*time.Minute))

	It("[claim 3] spreads replicas 2/2/2 and honours required anti-affinity", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)
		d := deployment("spread", 6)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			byNode, pods := podsOf(ctx, cs, "spread")
			g.Expect(pods).To(HaveLen(6))
			g.Expect(byNode).To(Equal(map[string]int{"node-1": 2, "node-2": 2, "node-3": 2}))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		anti := deployment("lonely", 4)
		anti.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "lonely"}},
				TopologyKey:   "kubernetes.io/hostname",
			}},
		}}
		_, err = cs.AppsV1().Deployments("default").Create(ctx, anti, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			byNode, pods := podsOf(ctx, cs, "lonely")
			g.Expect(pods).To(HaveLen(4))
			g.Expect(byNode).To(Equal(map[string]int{"": 1, "node-1": 1, "node-2": 1, "node-3": 1}))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	}, SpecTimeout(5*time.Minute))

	It("preempts lower-priority pods for a higher-priority one, marks them DisruptionTarget, and keeps their room for it", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		specPriorityClasses(ctx, cs)
		onNode1 := func(p *corev1.Pod, class string) *corev1.Pod {
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "node-1"}
			p.Spec.PriorityClassName = class
			return withCPU(p, "800m")
		}

		By("two low-priority pods fill node-1's 2 cpus")
		for _, n := range []string{"low-a", "low-b"} {
			create(ctx, cs, onNode1(testPod(n), "spec-low"))
			waitFor(ctx, cs, n, time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning)) })
		}
		By("a third low-priority pod waits: it may not preempt its peers")
		create(ctx, cs, onNode1(testPod("low-c"), "spec-low"))
		waitFor(ctx, cs, "low-c", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			g.Expect(p.Status.Conditions).To(ContainElement(HaveField("Reason", "Unschedulable")))
		})

		By("a high-priority pod preempts exactly one of them and runs on node-1")
		create(ctx, cs, onNode1(testPod("high"), "spec-high"))
		high := waitFor(ctx, cs, "high", 2*time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Spec.NodeName).To(Equal("node-1"))
			g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
		})
		var victims []string
		Eventually(func(g Gomega) {
			victims = nil
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=Preempted"})
			g.Expect(err).NotTo(HaveOccurred())
			for _, e := range evs.Items {
				g.Expect(e.Message).To(ContainSubstring("Preempted by pod " + string(high.UID) + " on node node-1"))
				victims = append(victims, e.InvolvedObject.Name)
			}
			g.Expect(victims).To(HaveLen(1))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(victims[0]).To(BeElementOf("low-a", "low-b"))
		survivor := map[string]string{"low-a": "low-b", "low-b": "low-a"}[victims[0]]
		live, err := cs.CoreV1().Pods("default").Get(ctx, survivor, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(live.DeletionTimestamp).To(BeNil(), "only one pod is preempted")

		By("the waiting low-priority pod did not take the freed room")
		p, err := cs.CoreV1().Pods("default").Get(ctx, "low-c", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Spec.NodeName).To(BeEmpty())
	}, SpecTimeout(5*time.Minute))

	It("marks a preempted pod held by a finalizer with the DisruptionTarget condition", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		specPriorityClasses(ctx, cs)
		victim := withCPU(testPod("held"), "1500m")
		victim.Spec.PriorityClassName = "spec-low"
		victim.Finalizers = []string{"kinns.io/spec-hold"}
		create(ctx, cs, victim)
		waitFor(ctx, cs, "held", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning)) })
		DeferCleanup(func(ctx context.Context) {
			_, _ = cs.CoreV1().Pods("default").Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		})
		preemptor := withCPU(testPod("urgent"), "1500m")
		preemptor.Spec.PriorityClassName = "spec-high"
		create(ctx, cs, preemptor)
		waitFor(ctx, cs, "held", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.DeletionTimestamp).NotTo(BeNil())
			g.Expect(p.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.DisruptionTarget), HaveField("Status", corev1.ConditionTrue),
				HaveField("Reason", "PreemptionByScheduler"))))
		})
	}, SpecTimeout(5*time.Minute))
})

var _ = Describe("The controllers", Controllers, func() {
	It("[claims 4, 17] replace deleted pods, scale, roll out without dropping below the floor, and roll back", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)
		d := deployment("web", 4)
		maxUnavailable, maxSurge := intstr.FromInt32(1), intstr.FromInt32(1)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}}
		d.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1,
		}
		_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		allReady := func(n int) func(g Gomega) {
			return func(g Gomega) {
				_, pods := podsOf(ctx, cs, "web")
				g.Expect(pods).To(HaveLen(n))
				g.Expect(readyCount(pods)).To(Equal(n))
			}
		}
		Eventually(allReady(4)).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		By("a deleted pod is replaced")
		_, pods := podsOf(ctx, cs, "web")
		Expect(cs.CoreV1().Pods("default").Delete(ctx, pods[0].Name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(g Gomega) {
			_, now := podsOf(ctx, cs, "web")
			g.Expect(now).To(HaveLen(4))
			for _, p := range now {
				g.Expect(p.Name).NotTo(Equal(pods[0].Name))
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("scaling up and down")
		scale := func(n int32) {
			// The controller writes the Deployment's status meanwhile: a
			// read-modify-write of the scale may meet a 409, and is retried,
			// as any client does.
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				s, err := cs.AppsV1().Deployments("default").GetScale(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return err
				}
				s.Spec.Replicas = n
				_, err = cs.AppsV1().Deployments("default").UpdateScale(ctx, "web", s, metav1.UpdateOptions{})
				return err
			})
			Expect(err).NotTo(HaveOccurred())
		}
		scale(6)
		Eventually(allReady(6)).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
		scale(4)
		Eventually(allReady(4)).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		By("a rolling update never leaves fewer than replicas-maxUnavailable ready pods")
		patch := []byte(`{"spec":{"template":{"metadata":{"annotations":{"rev":"2"}}}}}`)
		_, err = cs.AppsV1().Deployments("default").Patch(ctx, "web", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		minReady := 4
		Eventually(func(g Gomega) {
			_, pods := podsOf(ctx, cs, "web")
			minReady = min(minReady, readyCount(pods))
			dep, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(dep.Status.ObservedGeneration).To(BeNumerically(">=", dep.Generation))
			g.Expect(dep.Status.UpdatedReplicas).To(BeEquivalentTo(4))
			g.Expect(dep.Status.Replicas).To(BeEquivalentTo(4))
			g.Expect(dep.Status.AvailableReplicas).To(BeEquivalentTo(4))
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		Expect(minReady).To(BeNumerically(">=", 3))

		By("a rollback to the first template reuses its ReplicaSet")
		rsBefore, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		Expect(err).NotTo(HaveOccurred())
		Expect(rsBefore.Items).To(HaveLen(2))
		undo := []byte(`{"spec":{"template":{"metadata":{"annotations":null}}}}`)
		_, err = cs.AppsV1().Deployments("default").Patch(ctx, "web", types.StrategicMergePatchType, undo, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			rs, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rs.Items).To(HaveLen(2))
			for _, r := range rs.Items {
				if r.Spec.Template.Annotations["rev"] == "" {
					g.Expect(r.Status.ReadyReplicas).To(BeEquivalentTo(4))
					g.Expect(r.Annotations["deployment.kubernetes.io/revision"]).To(Equal("3"))
				}
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).Should(Succeed())
	}, SpecTimeout(8*time.Minute))

	It("drains a cordoned node through the eviction API", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		_, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("drain", 4), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			byNode, pods := podsOf(ctx, cs, "drain")
			g.Expect(readyCount(pods)).To(Equal(4))
			g.Expect(byNode["node-1"]).To(BeNumerically(">", 0))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		_, err = cs.CoreV1().Nodes().Patch(ctx, "node-1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, pods := podsOf(ctx, cs, "drain")
		for _, p := range pods {
			if p.Spec.NodeName == "node-1" {
				ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: "default"}}
				Expect(cs.CoreV1().Pods("default").EvictV1(ctx, ev)).To(Succeed())
			}
		}
		Eventually(func(g Gomega) {
			byNode, pods := podsOf(ctx, cs, "drain")
			g.Expect(byNode["node-1"]).To(BeZero())
			g.Expect(readyCount(pods)).To(Equal(4))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	}, SpecTimeout(4*time.Minute))
})
