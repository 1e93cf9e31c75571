package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// write is one create of a ConfigMap by the writing client.
type write struct {
	name       string
	start, end time.Time
	err        error
}

func succeeded(w write) bool { return w.err == nil }
func failed(w write) bool    { return w.err != nil }

// writer is a client that creates a ConfigMap every writeEvery (or as soon
// as the previous create ended, if it took longer), each with the short
// timeout of its clientset, and notes each result.
type writer struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	log    []write
}

// startWriter starts writing ConfigMaps named prefix-N; stop ends it.
func startWriter(ctx context.Context, cs kubernetes.Interface, prefix string) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			wr := write{name: fmt.Sprintf("%s-%d", prefix, i), start: time.Now()}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: wr.name}, Data: map[string]string{"n": fmt.Sprint(i)}}
			_, wr.err = cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
			wr.end = time.Now()
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			w.log = append(w.log, wr)
			w.mu.Unlock()
			time.Sleep(time.Until(wr.start.Add(writeEvery)))
		}
	}()
	return w
}

// stop ends the writing and returns every write, in order.
func (w *writer) stop() []write {
	w.cancel()
	<-w.done
	return w.writes()
}

func (w *writer) writes() []write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]write(nil), w.log...)
}

// await waits until a write for which ok holds has ended after t, and
// returns the first such write.
func (w *writer) await(ctx context.Context, t time.Time, ok func(write) bool, timeout time.Duration) (write, error) {
	var found write
	err := poll(ctx, "a write", timeout, func(context.Context) (bool, error) {
		var seen bool
		found, seen = firstEnded(w.writes(), t, ok)
		return seen, nil
	})
	return found, err
}

// firstEnded is the first write of ws (in the order they ended) that ended
// after t and for which ok holds.
func firstEnded(ws []write, t time.Time, ok func(write) bool) (write, bool) {
	for _, w := range ws {
		if w.end.After(t) && ok(w) {
			return w, true
		}
	}
	return write{}, false
}

// lastEnded is the last write of ws that ended before t and for which ok
// holds.
func lastEnded(ws []write, t time.Time, ok func(write) bool) (write, bool) {
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].end.Before(t) && ok(ws[i]) {
			return ws[i], true
		}
	}
	return write{}, false
}

// countFailed counts the writes that failed and ended after t, and gives
// the first one's error.
func countFailed(ws []write, t time.Time) (int, error) {
	n, first := 0, error(nil)
	for _, w := range ws {
		if w.end.After(t) && w.err != nil {
			if n == 0 {
				first = w.err
			}
			n++
		}
	}
	return n, first
}
