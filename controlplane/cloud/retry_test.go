package cloud

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func TestRetryRedeliversWaitingServices(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(fake.NewClientset(lbService("web")), 0)
	defer factory.Shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	services := newRetryingInformer(factory.Core().V1().Services())
	var adds atomic.Int32
	_, err := services.Informer().AddEventHandlerWithResyncPeriod(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { adds.Add(1) },
	}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced) {
		t.Fatal("no sync")
	}
	for adds.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	services.Retry([]string{"default/web", "default/gone"})
	if n := adds.Load(); n != 2 {
		t.Errorf("%d adds, want the first and one retry", n)
	}
}

func TestProviderRetriesWaitingServicesWhenAnAddressIsFreed(t *testing.T) {
	ctx := context.Background()
	p, _, _ := testRouter(t)
	var retried []string
	p.retry = func(keys []string) { retried = append(retried, keys...) }
	p.EnsureLoadBalancer(ctx, "t", lbService("a"), nil)
	p.EnsureLoadBalancer(ctx, "t", lbService("b"), nil)
	if _, err := p.EnsureLoadBalancer(ctx, "t", lbService("c"), nil); err == nil {
		t.Fatal("c got an address from a full pool")
	}
	if err := p.EnsureLoadBalancerDeleted(ctx, "t", lbService("never-had-one")); err != nil || len(retried) != 0 {
		t.Fatalf("deleting a Service without an address: %v, retried %v", err, retried)
	}
	if err := p.EnsureLoadBalancerDeleted(ctx, "t", lbService("a")); err != nil {
		t.Fatal(err)
	}
	if len(retried) != 1 || retried[0] != "default/c" {
		t.Fatalf("retried %v, want default/c", retried)
	}
	if _, err := p.EnsureLoadBalancer(ctx, "t", lbService("c"), nil); err != nil {
		t.Fatal(err)
	}
	p.EnsureLoadBalancerDeleted(ctx, "t", lbService("b"))
	if len(retried) != 1 {
		t.Errorf("retried %v: c has its address, nobody waits", retried)
	}
}
