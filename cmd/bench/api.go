package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness"
)

var apiNames = []string{"api_mutating_p99_seconds", "api_get_p99_seconds", "api_list_1000_seconds", "watch_delivery_p99_seconds"}

const (
	apiNamespace = "bench-api"
	apiObjects   = 1000
	apiRate      = 100 // requests a second, open loop
)

// apiLatency sends 1,000 ConfigMap creates at a fixed 100 a second,
// whatever the answers take (open loop: each request's latency counts from
// its scheduled send), while a watcher times each create's event; then
// gets of them at the same rate; then lists them.
func apiLatency(ctx context.Context, lab *harness.Lab) (Figures, error) {
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", apiNamespace, err)
	}
	defer cs.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), apiNamespace, metav1.DeleteOptions{})
	events, err := watchAdded(ctx, cs)
	if err != nil {
		return nil, err
	}
	defer events.close()
	creates, sent, err := openLoop(ctx, apiObjects, apiRate, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().ConfigMaps(apiNamespace).Create(ctx, benchConfigMap(i), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creates: %w", err)
	}
	delivery, err := events.delays(sent, 10*time.Second)
	if err != nil {
		return nil, err
	}
	gets, _, err := openLoop(ctx, apiObjects, apiRate, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().ConfigMaps(apiNamespace).Get(ctx, cmName(i), metav1.GetOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gets: %w", err)
	}
	list, err := listTimes(ctx, cs, 5)
	if err != nil {
		return nil, err
	}
	return Figures{"api_mutating_p99_seconds": percentile(creates, 0.99), "api_get_p99_seconds": percentile(gets, 0.99),
		"api_list_1000_seconds": median(list), "watch_delivery_p99_seconds": percentile(delivery, 0.99)}, nil
}

func cmName(i int) string { return fmt.Sprintf("bench-%d", i) }

func benchConfigMap(i int) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName(i), Namespace: apiNamespace}, Data: map[string]string{"k": "v"}}
}

// openLoop starts request i at start + i/rate whether or not earlier ones
// have answered, and returns each latency from its scheduled start (in
// seconds) and those starts. The first error ends it.
func openLoop(ctx context.Context, n, rate int, request func(context.Context, int) error) ([]float64, []time.Time, error) {
	lat, sched := make([]float64, n), make([]time.Time, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sched[i] = start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil, nil, ctx.Err()
		case <-time.After(time.Until(sched[i])):
		}
		wg.Go(func() {
			if err := request(ctx, i); err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
			}
			lat[i] = seconds(time.Since(sched[i]))
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, nil, err
	}
	return lat, sched, nil
}

// listTimes lists the namespace's ConfigMaps runs times, one after the
// other, and checks each list holds them all.
func listTimes(ctx context.Context, cs kubernetes.Interface, runs int) ([]float64, error) {
	var out []float64
	for range runs {
		t := time.Now()
		l, err := cs.CoreV1().ConfigMaps(apiNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, seconds(time.Since(t)))
		if len(l.Items) < apiObjects {
			return nil, fmt.Errorf("list gave %d ConfigMaps, want %d or more", len(l.Items), apiObjects)
		}
	}
	return out, nil
}
