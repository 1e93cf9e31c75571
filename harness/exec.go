package harness

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/kubelet/records"
)

// PodHostPrefix names a pod where a host is expected: pod/NS/NAME, or
// pod/NAME for a pod of the default namespace. Commands then run in the
// pod's network namespace.
const PodHostPrefix = "pod/"

// Command prepares argv to run inside host's network namespace; start it with
// (*Lab).Start or run it with (*Lab).Exec. host is a lab host (cp-1, node-2,
// client…) or a pod (pod/NS/NAME).
func (l *Lab) Command(ctx context.Context, host string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command given to run in %s", host)
	}
	if _, _, isPod, err := parsePodHost(host); isPod {
		if err != nil {
			return nil, err
		}
	} else if _, err := l.Host(host); err != nil {
		return nil, err
	}
	name := argv[0]
	if name == TestAppCommand {
		// The test program runs on every host, as it does in pods: hosts
		// share the machine's files, only their network is their own.
		bin, err := l.testAppBinary()
		if err != nil {
			return nil, fmt.Errorf("run %s in %s: %w", name, host, err)
		}
		name = bin
	}
	return exec.CommandContext(ctx, name, argv[1:]...), nil
}

// TestAppCommand, as the command of Exec or `lab exec`, is the test
// image's program (`testapp get URL`, `testapp udp ADDR MSG`…), on any host.
const TestAppCommand = "testapp"

// Start starts cmd inside host's network namespace.
func (l *Lab) Start(ctx context.Context, host string, cmd *exec.Cmd) error {
	path, err := l.NetnsPath(ctx, host)
	if err != nil {
		return err
	}
	return netns.Start(path, cmd)
}

// NetnsPath returns the path of host's network namespace, checking that it
// exists. For a pod (pod/NS/NAME) it asks the API server where the pod runs.
func (l *Lab) NetnsPath(ctx context.Context, host string) (string, error) {
	if ns, name, isPod, err := parsePodHost(host); isPod {
		if err != nil {
			return "", err
		}
		return l.podNetns(ctx, ns, name)
	}
	h, err := l.Host(host)
	if host == l.fabricHost().Name {
		h, err = l.fabricHost(), nil // the lab's network itself: the API balancer runs there
	}
	if err != nil {
		return "", err
	}
	if !netns.Exists(h.Netns) {
		return "", fmt.Errorf("host %s of lab %s is gone (no namespace %s)", host, l.Name(), h.Netns)
	}
	return netns.Path(h.Netns), nil
}

// parsePodHost splits pod/NS/NAME or pod/NAME; isPod is false for any other
// host name.
func parsePodHost(host string) (ns, name string, isPod bool, err error) {
	rest, ok := strings.CutPrefix(host, PodHostPrefix)
	if !ok {
		return "", "", false, nil
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return metav1.NamespaceDefault, parts[0], true, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], true, nil
	}
	return "", "", true, fmt.Errorf("%q is not a pod: write pod/NAMESPACE/NAME, or pod/NAME for the default namespace", host)
}

// podNetns finds the network namespace of a running pod: its node's for a
// host-network pod, otherwise the one its node's kubelet made for it.
func (l *Lab) podNetns(ctx context.Context, ns, name string) (string, error) {
	cs, err := l.adminClient(10 * time.Second)
	if err != nil {
		return "", err
	}
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("find pod %s/%s in lab %s: %w", ns, name, l.Name(), err)
	}
	node := pod.Spec.NodeName
	if node == "" {
		return "", fmt.Errorf("pod %s/%s is not on a node yet (phase %s): it has no network namespace; wait until it runs", ns, name, pod.Status.Phase)
	}
	if pod.Spec.HostNetwork {
		return l.NetnsPath(ctx, node)
	}
	if _, err := l.Host(node); err != nil {
		return "", fmt.Errorf("pod %s/%s: %w", ns, name, err)
	}
	nsName, ok := records.NetnsOf(l.kubeletStateDir(node), pod.UID)
	if !ok || !netns.Exists(nsName) {
		return "", fmt.Errorf("pod %s/%s on %s has no network namespace (phase %s); wait until it runs", ns, name, node, pod.Status.Phase)
	}
	return netns.Path(nsName), nil
}

// Exec runs argv inside host's namespace and returns what it printed (stdout and
// stderr together). A failure is a *RunError carrying that output.
func (l *Lab) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	cmd, err := l.Command(ctx, host, argv...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := l.Start(ctx, host, cmd); err != nil {
		return nil, &RunError{Host: host, Argv: argv, Err: err}
	}
	if err := cmd.Wait(); err != nil {
		return out.Bytes(), &RunError{Host: host, Argv: argv, Output: out.Bytes(), Err: err}
	}
	return out.Bytes(), nil
}
