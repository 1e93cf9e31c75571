package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	componentbaseconfigv1alpha1 "k8s.io/component-base/config/v1alpha1"
	schedulerconfigv1 "k8s.io/kube-scheduler/config/v1"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/proc"
)

// upstreamSchedulerName is the single profile of the upstream
// kube-scheduler: it places only pods that name it, and ours leaves those
// alone, as kube-scheduler leaves pods of other names.
const upstreamSchedulerName = "upstream-scheduler"

// kubeSchedulerBinary is the upstream kube-scheduler v1.37.2, built from our
// module's k8s.io/kubernetes by `make bench`. A binary of its own, not linked
// into lab or bench, keeps both small and runs upstream's main as is.
var kubeSchedulerBinary = flag.String("kube-scheduler", "_output/bin/kube-scheduler",
	"path of the upstream kube-scheduler, which the scheduling comparison runs")

// schedulingRounds is how many times each scheduling figure is taken; the
// median is reported (one round varied by a factor of two here).
const schedulingRounds = 3

// upstreamScheduling measures our scheduler and the upstream kube-scheduler
// (default profile, same client QPS) the same way on the same lab: each
// binds a backlog of pods onto fake nodes (backlogRate). Beside them, the
// bench binds a batch itself (bindFloor): the API server's pace, which
// bounds both. Each batch is deleted before the next, so that all find the
// same empty nodes; the three take turns, schedulingRounds times.
func upstreamScheduling(ctx context.Context, lab *harness.Lab, pods, nodes int) (Figures, error) {
	if pods < 2 || nodes < 1 || pods > nodes*fakeNodePods {
		return nil, fmt.Errorf("scheduling comparison of %d pods on %d nodes: want at least two pods and one node, and at most %d pods a node", pods, nodes, fakeNodePods)
	}
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	if err := fakeCluster(ctx, lab, cs, nodes); err != nil {
		return nil, err
	}
	ks, err := startKubeScheduler(ctx, lab)
	if err != nil {
		return nil, fmt.Errorf("upstream kube-scheduler: %w", err)
	}
	defer ks.stop()
	if err := ks.waitScheduling(ctx, cs, "sched-upstream-first"); err != nil {
		return nil, fmt.Errorf("upstream kube-scheduler: %w", err)
	}
	kinds := []struct {
		name, prefix string
		measure      func(schedBatch) (float64, error)
	}{
		{"scheduling_bind_floor_pods_per_second", "sched-floor", func(b schedBatch) (float64, error) { return bindFloor(ctx, cs, b, nodes) }},
		{"scheduling_pods_per_second", "sched-ours", func(b schedBatch) (float64, error) {
			return backlogRate(ctx, cs, b,
				func() error { return lab.PauseComponent(ctx, harness.ComponentScheduler) },
				func() error { return lab.ResumeComponent(ctx, harness.ComponentScheduler) })
		}},
		{"scheduling_pods_per_second_upstream", "sched-upstream", func(b schedBatch) (float64, error) {
			b.schedulerName = upstreamSchedulerName
			rate, err := backlogRate(ctx, cs, b,
				func() error { return ks.cmd.Process.Signal(syscall.SIGSTOP) },
				func() error { return ks.cmd.Process.Signal(syscall.SIGCONT) })
			if err != nil {
				err = fmt.Errorf("%w; its log ends:\n%s", err, proc.LogTail(ks.logPath(), 20))
			}
			return rate, err
		}},
	}
	runs := map[string][]float64{}
	for round := range schedulingRounds {
		for _, k := range kinds {
			prefix := fmt.Sprintf("%s-%d", k.prefix, round)
			rate, err := k.measure(schedBatch{prefix: prefix, pods: pods})
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", k.name, round+1, err)
			}
			runs[k.name] = append(runs[k.name], rate)
			if err := deleteBatch(ctx, cs, prefix); err != nil {
				return nil, err
			}
		}
	}
	figs := medians(runs)
	figs["scheduling_vs_upstream_ratio"] = figs["scheduling_pods_per_second"] / figs["scheduling_pods_per_second_upstream"]
	return figs, nil
}

// kubeScheduler is one upstream kube-scheduler process and the folder of
// its files (configuration, kubeconfig, log).
type kubeScheduler struct {
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{} // closed once the process is waited for
	waitErr error         // its exit, once exited is closed
}

// startKubeScheduler runs kube-scheduler on cp-1, where our scheduler runs,
// so that both reach the API server the same way: as system:kube-scheduler,
// without leader election and without serving (--secure-port=0).
func startKubeScheduler(ctx context.Context, lab *harness.Lab) (*kubeScheduler, error) {
	bin, err := filepath.Abs(*kubeSchedulerBinary)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (make bench builds it; -kube-scheduler names another)", err)
	}
	dir, err := os.MkdirTemp("", "kinns-bench-kube-scheduler-")
	if err != nil {
		return nil, err
	}
	ks := &kubeScheduler{dir: dir, exited: make(chan struct{})}
	if err := ks.start(ctx, lab, bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return ks, nil
}

func (ks *kubeScheduler) start(ctx context.Context, lab *harness.Lab, bin string) error {
	config, err := ks.writeFiles(lab)
	if err != nil {
		return err
	}
	log, err := os.Create(ks.logPath())
	if err != nil {
		return err
	}
	defer log.Close() // the child holds its own copy
	ks.cmd, err = lab.Command(ctx, "cp-1", bin, "--config", config, "--secure-port=0")
	if err != nil {
		return err
	}
	ks.cmd.Stdout, ks.cmd.Stderr = log, log
	if err := lab.Start(ctx, "cp-1", ks.cmd); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { ks.waitErr = ks.cmd.Wait(); close(ks.exited) }()
	return nil
}

// writeFiles writes the kubeconfig of the lab's scheduler identity, pointing
// inside the lab, and a configuration of one profile, upstream's defaults
// otherwise; it returns the configuration's path.
func (ks *kubeScheduler) writeFiles(lab *harness.Lab) (string, error) {
	bundle, err := pki.Load(lab.PKIPaths().Dir)
	if err != nil {
		return "", err
	}
	kubeconfig := filepath.Join(ks.dir, "kubeconfig")
	if err := pki.WriteKubeconfig(kubeconfig, bundle, pki.Scheduler, lab.InClusterURL()); err != nil {
		return "", err
	}
	b, err := kubeSchedulerConfig(kubeconfig)
	if err != nil {
		return "", err
	}
	path := filepath.Join(ks.dir, "config.yaml")
	return path, os.WriteFile(path, b, 0o600)
}

// kubeSchedulerConfig is a KubeSchedulerConfiguration with our scheduler's
// client QPS, no leader election and one profile, upstream's default one
// named upstreamSchedulerName. It is JSON (which is YAML): kube-scheduler
// defaults its zero fields.
func kubeSchedulerConfig(kubeconfig string) ([]byte, error) {
	return json.Marshal(schedulerconfigv1.KubeSchedulerConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: schedulerconfigv1.SchemeGroupVersion.String(), Kind: "KubeSchedulerConfiguration"},
		ClientConnection: componentbaseconfigv1alpha1.ClientConnectionConfiguration{Kubeconfig: kubeconfig,
			QPS: harness.SchedulerQPS, Burst: harness.SchedulerBurst},
		LeaderElection: componentbaseconfigv1alpha1.LeaderElectionConfiguration{LeaderElect: new(false)},
		Profiles:       []schedulerconfigv1.KubeSchedulerProfile{{SchedulerName: new(upstreamSchedulerName)}},
	})
}

func (ks *kubeScheduler) logPath() string { return filepath.Join(ks.dir, "kube-scheduler.log") }

// waitScheduling creates one pod for kube-scheduler and waits until it is
// bound: then its informers are synced and the measured batch starts on a
// running scheduler, as ours is.
func (ks *kubeScheduler) waitScheduling(ctx context.Context, cs kubernetes.Interface, name string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{SchedulerName: upstreamSchedulerName, Containers: []corev1.Container{{Name: "c", Image: testImage}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	defer cs.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	deadline := time.After(time.Minute)
	for {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Spec.NodeName != "" {
			return nil
		}
		select {
		case <-ks.exited:
			return fmt.Errorf("kube-scheduler exited (%v); its log ends:\n%s", ks.waitErr, proc.LogTail(ks.logPath(), 20))
		case <-deadline:
			return fmt.Errorf("pod %s not bound 1m after kube-scheduler started; its log ends:\n%s", name, proc.LogTail(ks.logPath(), 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills kube-scheduler, by the PID it was started with, waits for it,
// and removes its files.
func (ks *kubeScheduler) stop() {
	if err := ks.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "bench: kill kube-scheduler (pid %d): %v\n", ks.cmd.Process.Pid, err)
	}
	<-ks.exited
	os.RemoveAll(ks.dir)
}
