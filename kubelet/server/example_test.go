package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kinns/kinns/kubelet/server"
)

// node is a Provider for a node that runs no pods yet.
type node struct{}

func (node) LogPath(ns, pod, container string, previous bool) (string, error) {
	return "", fmt.Errorf("pod %s/%s: %w", ns, pod, server.ErrNotFound)
}

func (node) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return fmt.Errorf("pod %s/%s: %w", ns, pod, server.ErrNotFound)
}

func (node) Attach(ctx context.Context, ns, pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return fmt.Errorf("pod %s/%s: %w", ns, pod, server.ErrNotFound)
}

func (node) PortForward(ctx context.Context, ns, pod string, port int32, stream io.ReadWriteCloser) error {
	return fmt.Errorf("pod %s/%s: %w", ns, pod, server.ErrNotFound)
}

func Example() {
	rc, err := clientcmd.BuildConfigFromFlags("", "/var/lib/kinns/demo/kubeconfigs/node-1.conf")
	if err != nil {
		slog.Error("kubeconfig", "err", err)
		return
	}
	client := kubernetes.NewForConfigOrDie(rc)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = server.Run(ctx, server.Config{
		Address:      ":10250",
		CertFile:     "/var/lib/kinns/demo/pki/kubelet-node-1.crt",
		KeyFile:      "/var/lib/kinns/demo/pki/kubelet-node-1.key",
		ClientCAFile: "/var/lib/kinns/demo/pki/ca.crt",
		NodeName:     "node-1",
		Client:       client,
		Log:          slog.Default().With("component", "kubelet-server", "node", "node-1"),
	}, node{})
	if err != nil {
		slog.Error("kubelet server", "err", err)
	}
}
