package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness"
)

// dnsLatency times A queries of a Service name from inside a pod's
// network namespace to the kube-dns Service (through the node's proxy rules
// to a DNS instance), one after the other.
func dnsLatency(ctx context.Context, lab *harness.Lab, n int) (Figures, error) {
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	pod := benchPod("dns-asker")
	pod.Spec.NodeName = "node-1"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	defer cs.CoreV1().Pods("default").Delete(context.WithoutCancel(ctx), pod.Name, metav1.DeleteOptions{})
	path, err := waitPodNetns(ctx, lab, cs, pod.Name)
	if err != nil {
		return nil, err
	}
	var conn net.PacketConn
	if err := netns.Do(path, func() (err error) { conn, err = net.ListenPacket("udp4", ":0"); return err }); err != nil {
		return nil, fmt.Errorf("socket in the pod's namespace: %w", err)
	}
	defer conn.Close()
	var took []float64
	for i := range n {
		d, err := query(conn, "kubernetes.default.svc.cluster.local.", dnsmessage.RCodeSuccess, uint16(i))
		if err != nil {
			return nil, err
		}
		took = append(took, seconds(d))
	}
	return Figures{"dns_p99_seconds": percentile(took, 0.99)}, nil
}

// waitPodNetns waits until the pod runs and returns its namespace's path.
// The namespace's record is written before the namespace is wired, so the
// pod's Running phase (its IP given, its containers started) is what says
// its network is ready: a query sent before that met "network is
// unreachable".
func waitPodNetns(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, name string) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var path string
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase != corev1.PodRunning {
			err = fmt.Errorf("pod %s is %s, not Running", name, p.Status.Phase)
		}
		if err == nil {
			path, err = lab.NetnsPath(ctx, "pod/default/"+name)
		}
		if err == nil {
			return path, nil
		}
		if time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// query sends one A query to kube-dns and times the answer, which must
// have rcode want.
func query(conn net.PacketConn, name string, want dnsmessage.RCode, id uint16) (time.Duration, error) {
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := msg.Pack()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := conn.WriteTo(b, &net.UDPAddr{IP: net.ParseIP("10.96.0.10"), Port: 53}); err != nil {
		return 0, err
	}
	buf := make([]byte, 1500)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return 0, fmt.Errorf("query %s: %w", name, err)
		}
		var reply dnsmessage.Message
		if reply.Unpack(buf[:n]) != nil || reply.Header.ID != id {
			continue // a late answer to an earlier query
		}
		if reply.Header.RCode != want {
			return 0, fmt.Errorf("query %s: rcode %v, want %v", name, reply.Header.RCode, want)
		}
		return time.Since(start), nil
	}
}
