package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// addedWatch notes when each ConfigMap of the bench's namespace was first
// seen ADDED by a watcher.
type addedWatch struct {
	w    watch.Interface
	done chan struct{}
	stop sync.Once
	mu   sync.Mutex
	seen map[string]time.Time
}

func watchAdded(ctx context.Context, cs kubernetes.Interface) (*addedWatch, error) {
	w, err := cs.CoreV1().ConfigMaps(apiNamespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("watch ConfigMaps: %w", err)
	}
	a := &addedWatch{w: w, done: make(chan struct{}), seen: map[string]time.Time{}}
	go a.read()
	return a, nil
}

func (a *addedWatch) read() {
	defer close(a.done)
	for ev := range a.w.ResultChan() {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok || ev.Type != watch.Added || !strings.HasPrefix(cm.Name, "bench-") {
			continue
		}
		a.mu.Lock()
		if _, dup := a.seen[cm.Name]; !dup {
			a.seen[cm.Name] = time.Now()
		}
		a.mu.Unlock()
	}
}

// close stops the watch and waits for its reader.
func (a *addedWatch) close() {
	a.stop.Do(a.w.Stop)
	<-a.done
}

// delays waits up to wait for the event of each ConfigMap created at
// sent[i], stops the watch, and returns each delay from the send, in
// seconds.
func (a *addedWatch) delays(sent []time.Time, wait time.Duration) ([]float64, error) {
	defer a.close()
	deadline := time.Now().Add(wait)
	for {
		a.mu.Lock()
		n := len(a.seen)
		a.mu.Unlock()
		if n >= len(sent) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the watcher saw %d of %d creates after %s", n, len(sent), wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]float64, len(sent))
	for i, t := range sent {
		at, ok := a.seen[cmName(i)]
		if !ok {
			return nil, fmt.Errorf("the watcher never saw %s", cmName(i))
		}
		out[i] = seconds(at.Sub(t))
	}
	return out, nil
}
