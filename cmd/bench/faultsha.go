package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kinns/kinns/harness"
)

// apiServerFailover runs a client that writes every writeEvery through the
// host's way in (127.0.0.1 forwarder -> virtual IP -> the fabric's L4
// balancer `apilb` -> one API server), and stops the API server that
// served its last write before the stop, the one its connection goes to
// (the harness's `apiserver stop N`: SIGTERM, graceful; the forwarder and
// the balancer are left alone). apiserver_failover_seconds runs from the
// stop's start to the end of the first good write that another API server
// served; which server served which write is read from their audit logs.
func apiServerFailover(ctx context.Context, f *faultLab) (map[string]float64, error) {
	w := startWriter(ctx, f.writes, f.next("failover"))
	defer w.stop()
	if _, err := w.await(ctx, time.Now(), succeeded, 30*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // a steady connection
	// The last good write a moment ago: its server's audit log has it.
	last, ok := lastEnded(w.writes(), time.Now().Add(-250*time.Millisecond), succeeded)
	served, err := servedBy(f.lab)
	if err != nil {
		return nil, err
	}
	n := served[last.name]
	if !ok || n == 0 {
		return nil, fmt.Errorf("no API server's audit log has the write of configmap %q", last.name)
	}
	stop := time.Now()
	if err := f.inject(ctx, fmt.Sprintf("apiserver stop %d", n)); err != nil {
		return nil, err
	}
	time.Sleep(time.Until(stop.Add(2 * time.Second))) // writes after the stop, on another server
	writes := w.stop()
	if served, err = servedBy(f.lab); err != nil {
		return nil, err
	}
	good, ok := firstEnded(writes, stop, func(w write) bool { return w.err == nil && served[w.name] != 0 && served[w.name] != n })
	if !ok {
		return nil, fmt.Errorf("no write served by another API server within 2s of apiserver/cp-%d's stop", n)
	}
	failures, firstErr := countFailed(writes, stop)
	f.log.Info("API server stopped", "stopped", harness.APIServerComponent(n), "failedWrites", failures, "firstError", firstErr,
		"firstGoodElsewhere", good.end.Sub(stop).Round(time.Millisecond), "servedBy", served[good.name],
		"outOfRotation", f.outOfRotation(n, stop), "writes", trace(writes, served, stop, good.end))
	if err := f.mendAPIServer(ctx, n); err != nil {
		return nil, err
	}
	return map[string]float64{"apiserver_failover_seconds": secondsSince(stop, good.end)}, nil
}

// mendAPIServer starts API server n again and waits until the balancer
// has every API server in rotation.
func (f *faultLab) mendAPIServer(ctx context.Context, n int) error {
	if err := f.inject(ctx, fmt.Sprintf("apiserver start %d", n)); err != nil {
		return err
	}
	return f.waitRotation(ctx)
}

// waitRotation waits until the balancer sends connections to every API
// server.
func (f *faultLab) waitRotation(ctx context.Context) error {
	return poll(ctx, "every API server in the balancer's rotation", time.Minute, func(context.Context) (bool, error) {
		bs := f.lab.APIServers()
		for _, b := range bs {
			if !b.Ready {
				return false, nil
			}
		}
		return len(bs) > 0, nil
	})
}

// outOfRotation is when the balancer took API server n out, after stop.
func (f *faultLab) outOfRotation(n int, stop time.Time) string {
	bs := f.lab.APIServers()
	if n > len(bs) || bs[n-1].Ready || bs[n-1].Since.Before(stop) {
		return "not seen"
	}
	return "+" + bs[n-1].Since.Sub(stop).Round(time.Millisecond).String()
}

// trace describes the writes that ended between from and to: when each
// ended, who served it or why it failed.
func trace(ws []write, served map[string]int, from, to time.Time) string {
	var b strings.Builder
	for _, w := range ws {
		if w.end.Before(from) || w.end.After(to) {
			continue
		}
		fmt.Fprintf(&b, "+%s ", w.end.Sub(from).Round(time.Millisecond))
		if w.err != nil {
			fmt.Fprintf(&b, "failed after %s (%v); ", w.end.Sub(w.start).Round(time.Millisecond), w.err)
		} else if n := served[w.name]; n > 0 {
			fmt.Fprintf(&b, "cp-%d; ", n)
		} else {
			b.WriteString("served, in no audit log; ")
		}
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// servedBy reads every API server's audit log: the control-plane host
// number (1-3) of the server that answered each ConfigMap create, by name.
func servedBy(lab *harness.Lab) (map[string]int, error) {
	out := map[string]int{}
	for i, path := range lab.AuditLogPaths() {
		if err := readCreates(path, i+1, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readCreates notes, in into, server n for each ConfigMap create that the
// audit log at path records as answered.
func readCreates(path string, n int, into map[string]int) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if name, ok := configMapCreate(sc.Bytes()); ok {
			into[name] = n
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit log %s: %w", path, err)
	}
	return nil
}

// configMapCreate reads one audit log line: the name of the ConfigMap it
// created, if it is the answer to such a create.
func configMapCreate(line []byte) (string, bool) {
	if !strings.Contains(string(line), `"configmaps"`) {
		return "", false
	}
	var ev auditv1.Event
	if json.Unmarshal(line, &ev) != nil || ev.Stage != auditv1.StageResponseComplete || ev.Verb != "create" || ev.ObjectRef == nil {
		return "", false
	}
	if ev.ObjectRef.Resource != "configmaps" || ev.ResponseStatus == nil || ev.ResponseStatus.Code != 201 {
		return "", false
	}
	return ev.ObjectRef.Name, ev.ObjectRef.Name != ""
}

// leaderFailover kills the host of the leading scheduler (its etcd member,
// API server, scheduler and controller manager, SIGKILL, through the
// harness's `component kill`), and the leading controller manager if it
// ran elsewhere, as the HA spec does; then a new Deployment is sent at
// once. leader_failover_seconds runs from the kill to every one of its
// pods bound to a node: the new controller manager leader made the
// ReplicaSet and its pods, the new scheduler leader placed them.
func leaderFailover(ctx context.Context, f *faultLab) (map[string]float64, error) {
	sched, err := f.leaseHost(ctx, "kube-scheduler")
	if err != nil {
		return nil, err
	}
	ctrl, err := f.leaseHost(ctx, "kube-controller-manager")
	if err != nil {
		return nil, err
	}
	victims := []string{harness.EtcdComponent(sched), harness.APIServerComponent(sched), harness.SchedulerComponent(sched), harness.ControllersComponent(sched)}
	if ctrl != sched { // not its etcd member: a second one would take quorum
		victims = append(victims, harness.ControllersComponent(ctrl))
	}
	name := f.next("leader")
	start := time.Now()
	for _, c := range victims {
		if err := f.inject(ctx, "component kill "+c); err != nil {
			return nil, err
		}
	}
	tl := &timeline{start: start}
	if err := f.createAgain(ctx, tl, name); err != nil {
		return nil, err
	}
	err = poll(ctx, "the pods of "+name+" bound", time.Minute, func(ctx context.Context) (bool, error) {
		return f.placed(ctx, tl, name, 2), nil
	})
	f.log.Info("leaders' host killed", "scheduler", sched, "controllerManager", ctrl, "killed", victims, "timeline", tl.String())
	if err != nil {
		return nil, err
	}
	if err := f.mendLeaders(ctx); err != nil {
		return nil, err
	}
	f.remove(ctx, name)
	return map[string]float64{"leader_failover_seconds": tl.when("every pod bound")}, nil
}

// leaseHost is the control-plane host number whose instance holds the
// kube-system Lease name.
func (f *faultLab) leaseHost(ctx context.Context, name string) (int, error) {
	l, err := f.cs.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read lease %s: %w", name, err)
	}
	if l.Spec.HolderIdentity == nil {
		return 0, fmt.Errorf("lease %s has no holder", name)
	}
	return holderHost(*l.Spec.HolderIdentity)
}

// holderHost reads the host number of a holder identity "cp-N_<uuid>".
func holderHost(id string) (int, error) {
	host, _, _ := strings.Cut(id, "_")
	n, err := strconv.Atoi(strings.TrimPrefix(host, "cp-"))
	if err != nil || !strings.HasPrefix(host, "cp-") || n < 1 {
		return 0, fmt.Errorf("lease holder %q is no control-plane host's", id)
	}
	return n, nil
}

// createAgain sends a Deployment of two replicas until the API takes it: a
// request on a connection to the killed API server fails, and a client
// tries again.
func (f *faultLab) createAgain(ctx context.Context, tl *timeline, name string) error {
	return poll(ctx, "the API to take deployment "+name, time.Minute, func(ctx context.Context) (bool, error) {
		_, err := f.writes.AppsV1().Deployments("default").Create(ctx, benchDeployment(name, 2), metav1.CreateOptions{})
		return tl.mark("Deployment accepted", err == nil || apierrors.IsAlreadyExists(err)), nil
	})
}

// placed notes the phases of the new leaders' work on name and reports
// whether its n pods are all bound.
func (f *faultLab) placed(ctx context.Context, tl *timeline, name string, n int) bool {
	rss, err := f.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	tl.mark("ReplicaSet made", err == nil && len(rss.Items) > 0)
	pods, err := f.pods(ctx, name)
	if err != nil {
		return false
	}
	bound := 0
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			bound++
		}
	}
	tl.mark("pods made", len(pods) >= n)
	return tl.mark("every pod bound", bound >= n)
}

// mendLeaders starts every killed component again and waits until every
// API server is in rotation and both Leases are held.
func (f *faultLab) mendLeaders(ctx context.Context) error {
	start := time.Now()
	if err := f.lab.HealAll(ctx); err != nil {
		return fmt.Errorf("heal the leaders' host: %w", err)
	}
	f.log.Info("healed", "took", time.Since(start).Round(time.Millisecond))
	if err := f.waitRotation(ctx); err != nil {
		return err
	}
	return poll(ctx, "both leases held", time.Minute, func(ctx context.Context) (bool, error) {
		_, errS := f.leaseHost(ctx, "kube-scheduler")
		_, errC := f.leaseHost(ctx, "kube-controller-manager")
		return errors.Join(errS, errC) == nil, nil
	})
}
