package pods

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/kubelet/runtime/containerd"
)

// webPod runs testapp with probes on its /healthz and /ready.
func webPod(name string) *v1.Pod {
	return testPod(name, func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		c.Env = []v1.EnvVar{{Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		c.Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		c.ReadinessProbe = &v1.Probe{PeriodSeconds: 1, FailureThreshold: 1,
			ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}}
		c.LivenessProbe = &v1.Probe{PeriodSeconds: 1, FailureThreshold: 2,
			ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}
		c.Resources.Limits = v1.ResourceList{"memory": mustQ("64Mi"), "cpu": mustQ("500m")}
	})
}

// TestKubeletOnContainerd walks one pod through its life on a real
// containerd, in a real node namespace: start, serve, crash and back off,
// fail its liveness probe, log, exec, port-forward, survive a kubelet
// restart, and graceful deletion.
func TestKubeletOnContainerd(t *testing.T) {
	e := newRootEnv(t)
	tk := &testKubelet{client: e.client}
	top := t
	k, stop := e.startKubelet(t, top)

	start := time.Now()
	tk.create(t, webPod("web"))
	p := tk.waitPod(t, "web", "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
	running := time.Since(start)
	p = tk.waitPod(t, "web", "ready", podIsReady)
	t.Logf("pod bound -> Running %s, -> Ready %s", running.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	ip := p.Status.PodIP
	if body, err := e.get("http://" + ip + ":8080/hostname"); err != nil || body != "web" {
		t.Fatalf("GET /hostname from the node: %q, %v", body, err)
	}
	id := strings.TrimPrefix(appStatus(p).ContainerID, "containerd://")
	checkInPodNetns(t, e, k, id)
	checkCgroup(t, e, p, id)

	t.Run("crash and backoff", func(t *testing.T) {
		for i, want := range []string{"at once", "after backoff"} {
			// The restarted app may not listen yet when its container is
			// reported Running: ask until it has answered (and so will exit).
			waitFor(t, "the app to take /exit", func() bool {
				_, err := e.get("http://" + ip + ":8080/exit?code=3")
				return err == nil
			})
			crashed := time.Now()
			p := tk.waitPod(t, "web", "restarted", func(p *v1.Pod) bool {
				return appStatus(p).RestartCount == int32(i+1) && appStatus(p).State.Running != nil
			})
			lt := appStatus(p).LastTerminationState.Terminated
			if lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
				t.Errorf("last state %+v", appStatus(p).LastTerminationState)
			}
			t.Logf("crash %d: running again %s later (%s)", i+1, time.Since(crashed).Round(time.Millisecond), want)
		}
		tk.waitPod(t, "web", "ready again", podIsReady)
	})

	t.Run("liveness failure", func(t *testing.T) {
		failed := time.Now()
		before := appStatus(tk.waitPod(t, "web", "ready", podIsReady)).RestartCount
		if _, err := e.get("http://" + ip + ":8080/healthz?fail=1"); err != nil {
			t.Fatal(err)
		}
		tk.waitPod(t, "web", "restarted by liveness", func(p *v1.Pod) bool { return appStatus(p).RestartCount == before+1 })
		t.Logf("liveness failing -> restarted %s later", time.Since(failed).Round(time.Millisecond))
		tk.waitPod(t, "web", "ready again", podIsReady)
	})

	t.Run("logs exec port-forward", func(t *testing.T) {
		e.get("http://" + ip + ":8080/echo?msg=logged")
		path, err := k.LogPath("default", "web", "app", false)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "request in the log", func() bool {
			b, _ := os.ReadFile(path)
			return bytes.Contains(b, []byte(" F ")) && bytes.Contains(b, []byte("/echo?msg=logged"))
		})
		if prev, err := k.LogPath("default", "web", "app", true); err != nil || prev == path {
			t.Errorf("previous log %q, %v", prev, err)
		}
		if _, err := k.LogPath("default", "nope", "app", false); !isNotFound(err) {
			t.Errorf("unknown pod: %v", err)
		}
		var out bytes.Buffer
		err = k.Exec(context.Background(), "default", "web", "app", []string{"/testapp", "get", "127.0.0.1:8080/hostname"}, nil, nopCloser{&out}, nopCloser{io.Discard}, false, nil)
		if err != nil || out.String() != "web" {
			t.Errorf("exec: %q, %v", out.String(), err)
		}
		err = k.Exec(context.Background(), "default", "web", "app", []string{"/testapp", "get", "127.0.0.1:1/"}, nil, nil, nil, false, nil)
		if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 {
			t.Errorf("failing exec: %v", err)
		}
		checkPortForward(t, k)
	})

	t.Run("adoption", func(t *testing.T) {
		before := appStatus(tk.waitPod(t, "web", "ready", podIsReady))
		stop()
		var restarted time.Time
		k, stop = e.startKubelet(t, top)
		restarted = time.Now()
		time.Sleep(3 * e.cfg.SyncInterval)
		p := tk.waitPod(t, "web", "ready", podIsReady)
		if cs := appStatus(p); cs.ContainerID != before.ContainerID || cs.RestartCount != before.RestartCount || cs.State.Running == nil {
			t.Errorf("after a kubelet restart: %+v, before %+v", cs, before)
		}
		if body, err := e.get("http://" + ip + ":8080/echo?msg=after-restart"); err != nil || body != "after-restart" {
			t.Errorf("serving after the restart: %q %v", body, err)
		}
		path, _ := k.LogPath("default", "web", "app", false)
		waitFor(t, "output after the restart logged", func() bool {
			b, _ := os.ReadFile(path)
			return bytes.Contains(b, []byte("after-restart"))
		})
		// A crash is still seen by the new kubelet.
		e.get("http://" + ip + ":8080/exit?code=4")
		p = tk.waitPod(t, "web", "restarted", func(p *v1.Pod) bool { return appStatus(p).RestartCount == before.RestartCount+1 })
		t.Logf("adopted for %s; crash seen, restartCount %d", time.Since(restarted).Round(time.Millisecond), appStatus(p).RestartCount)
	})

	t.Run("graceful deletion", func(t *testing.T) {
		slow := testPod("slow", func(p *v1.Pod) {
			c := &p.Spec.Containers[0]
			c.Env = []v1.EnvVar{{Name: "TESTAPP_TERM_DELAY", Value: "2s"}}
			c.ReadinessProbe = &v1.Probe{PeriodSeconds: 1, TimeoutSeconds: 2, ProbeHandler: v1.ProbeHandler{
				Exec: &v1.ExecAction{Command: []string{"/testapp", "get", "127.0.0.1:8080/ready"}}}}
		})
		tk.create(t, slow)
		p := tk.waitPod(t, "slow", "ready", podIsReady) // through its exec probe
		if body, err := e.get("http://" + p.Status.PodIP + ":8080/hostname"); err != nil || body != "slow" {
			t.Errorf("host name in the container: %q, %v", body, err)
		}
		sb := k.netnsName(p.UID)
		deleted := time.Now()
		now := metav1.Now()
		grace := int64(10)
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
		if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "final delete", func() bool {
			_, err := e.client.CoreV1().Pods("default").Get(context.Background(), "slow", metav1.GetOptions{})
			return err != nil
		})
		took := time.Since(deleted)
		t.Logf("deleted (term delay 2s, grace 10s): gone from the API after %s", took.Round(time.Millisecond))
		if took < 2*time.Second || took > 6*time.Second {
			t.Errorf("deletion took %s", took)
		}
		waitFor(t, "sandbox gone", func() bool { return !netns.Exists(sb) })
	})

	t.Run("image pull failure", func(t *testing.T) {
		tk.create(t, testPod("nopull", func(p *v1.Pod) { p.Spec.Containers[0].Image = "127.0.0.1:1/nope:1" }))
		p := tk.waitPod(t, "nopull", "ErrImagePull", func(p *v1.Pod) bool {
			w := appStatus(p).State.Waiting
			return w != nil && w.Reason == "ErrImagePull"
		})
		t.Logf("pull error: %s", appStatus(p).State.Waiting.Message)
		tk.waitPod(t, "nopull", "ImagePullBackOff", func(p *v1.Pod) bool {
			w := appStatus(p).State.Waiting
			return w != nil && w.Reason == "ImagePullBackOff"
		})
	})

	t.Run("orphans", func(t *testing.T) {
		p := tk.waitPod(t, "web", "ready", podIsReady)
		stop()
		if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		k, stop = e.startKubelet(t, top)
		waitFor(t, "orphan removed: containers, network, logs", func() bool {
			cs, _ := k.rt.List(context.Background(), string(p.UID))
			_, err := os.Stat(k.inputs.PodLogDir(podRefOf(p)))
			return len(cs) == 0 && !netns.Exists(k.netnsName(p.UID)) && os.IsNotExist(err)
		})
	})
}

// checkInPodNetns proves claim 8: the container is a containerd task whose
// process lives in the pod's network namespace.
func checkInPodNetns(t *testing.T, e *rootEnv, k *Manager, id string) {
	t.Helper()
	cs, err := k.rt.List(context.Background(), "uid-web")
	if err != nil || len(cs) == 0 {
		t.Fatalf("runtime list: %v %v", cs, err)
	}
	rt := k.rt.(*containerd.Containerd)
	pid, err := rt.TaskPID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(netns.Path(k.netnsName("uid-web")), &st); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", st.Ino); link != want {
		t.Errorf("task %d in %s, want the pod's %s", pid, link, want)
	}
}

// checkCgroup finds the container's cgroup under the node's parent, with
// its memory limit.
func checkCgroup(t *testing.T, e *rootEnv, p *v1.Pod, id string) {
	t.Helper()
	rel := e.cfg.CgroupParent + "/pod" + string(p.UID) + "/" + id
	candidates := []string{
		filepath.Join("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes"),
		filepath.Join("/sys/fs/cgroup", rel, "memory.max"),
	}
	for _, f := range candidates {
		if b, err := os.ReadFile(f); err == nil {
			if strings.TrimSpace(string(b)) != fmt.Sprint(64<<20) {
				t.Errorf("%s = %s", f, b)
			}
			return
		}
	}
	t.Errorf("no cgroup for the container among %v", candidates)
}

func checkPortForward(t *testing.T, k *Manager) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- k.PortForward(context.Background(), "default", "web", 8080, server) }()
	fmt.Fprintf(client, "GET /hostname HTTP/1.0\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(client)
	if !strings.HasSuffix(string(b), "\r\n\r\nweb") {
		t.Errorf("port-forward answer %q", b)
	}
	if err := <-done; err != nil {
		t.Errorf("port-forward: %v", err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }
