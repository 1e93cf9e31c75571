package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness"
)

// controlPlane times a whole lab's bring-up (etcd, API server) and the API's
// latency for creates and gets of small objects, one at a time.
func controlPlane(ctx context.Context, labBinary string, runs int) ([]Result, error) {
	abs, err := filepath.Abs(labBinary)
	if err != nil {
		return nil, err
	}
	up := Result{Name: "lab up with control plane, 3 nodes", Unit: "ms", Runs: runs}
	var lab *harness.Lab
	for i := 0; i < runs; i++ {
		t := time.Now()
		l, err := harness.Up(ctx, harness.Config{Name: fmt.Sprintf("bench-cp-%d", i), Nodes: 3, APIServers: 1, LabBinary: abs})
		if err != nil {
			return nil, err
		}
		up.Values = append(up.Values, ms(time.Since(t)))
		if i < runs-1 {
			if err := l.Down(ctx); err != nil {
				return nil, err
			}
			continue
		}
		lab = l
	}
	defer lab.Down(context.Background())
	rc, err := lab.RESTConfig()
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	const n = 300
	create := Result{Name: fmt.Sprintf("API create configmap (%d, sequential)", n), Unit: "ms", Runs: n}
	get := Result{Name: fmt.Sprintf("API get configmap (%d, sequential)", n), Unit: "ms", Runs: n}
	for i := 0; i < n; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}, Data: map[string]string{"k": "v"}}
		t := time.Now()
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		create.Values = append(create.Values, ms(time.Since(t)))
	}
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, fmt.Sprintf("bench-%d", i), metav1.GetOptions{}); err != nil {
			return nil, err
		}
		get.Values = append(get.Values, ms(time.Since(t)))
	}
	out := []Result{summarise(up), summarise(create), summarise(get)}
	more, err := onLab(ctx, lab)
	return append(out, more...), err
}

// onLab runs the scenarios that need a whole lab, in order, on one lab.
func onLab(ctx context.Context, lab *harness.Lab) ([]Result, error) {
	scenarios := []func() ([]Result, error){
		func() ([]Result, error) { return podStartup(ctx, lab, 30) },
		func() ([]Result, error) { r, err := ctrRun(ctx, lab, 10); return []Result{r}, err },
		func() ([]Result, error) { r, err := scheduling(ctx, lab, 500, 10); return []Result{r}, err },
		func() ([]Result, error) { r, err := networkProgramming(ctx, lab, 30); return []Result{r}, err },
		func() ([]Result, error) { return dnsLatency(ctx, lab, 200) },
	}
	var out []Result
	for _, run := range scenarios {
		rs, err := run()
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
