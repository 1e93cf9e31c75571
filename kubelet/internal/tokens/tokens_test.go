package tokens

import (
	"context"
	"strconv"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func issued(at time.Time, seconds int64) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{
		Spec:   authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
		Status: authenticationv1.TokenRequestStatus{ExpirationTimestamp: metav1.NewTime(at.Add(time.Duration(seconds) * time.Second))},
	}
}

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	hour := issued(t0, 3600)
	tests := []struct {
		name   string
		tr     *authenticationv1.TokenRequest
		after  time.Duration
		maxAge time.Duration
		want   bool
	}{
		{"fresh", hour, time.Minute, 24 * time.Hour, false},
		{"just under 80 %", hour, 48*time.Minute - time.Second, 24 * time.Hour, false},
		{"at 80 %", hour, 48 * time.Minute, 24 * time.Hour, true},
		{"expired", hour, 2 * time.Hour, 24 * time.Hour, true},
		{"under max age", hour, 19 * time.Second, 20 * time.Second, false},
		{"max age", hour, 20 * time.Second, 20 * time.Second, true},
		{"a year's token at a day", issued(t0, 365*24*3600), 24 * time.Hour, 24 * time.Hour, true},
		{"no lifetime", &authenticationv1.TokenRequest{}, 48 * time.Hour, 24 * time.Hour, false},
	}
	for _, tt := range tests {
		if got := Due(tt.tr, t0.Add(tt.after), tt.maxAge); got != tt.want {
			t.Errorf("%s: Due = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// fakeTokenAPI issues token-1, token-2… and records the requests.
func fakeTokenAPI(c *clocktesting.FakeClock) (*fake.Clientset, *[]*authenticationv1.TokenRequest) {
	cs := fake.NewClientset()
	var reqs []*authenticationv1.TokenRequest
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		reqs = append(reqs, tr)
		tr.Status.Token = "token-" + strconv.Itoa(len(reqs))
		tr.Status.ExpirationTimestamp = metav1.NewTime(c.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	return cs, &reqs
}

func TestManagerRefreshes(t *testing.T) {
	ctx := context.Background()
	c := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	cs, reqs := fakeTokenAPI(c)
	m := New(cs, 20*time.Second, c)
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "u1"}}
	r := Request{Pod: pod, ServiceAccount: "default"}

	get := func(want string) {
		t.Helper()
		if tok, err := m.Get(ctx, r); err != nil || tok != want {
			t.Fatalf("Get = %q, %v; want %q", tok, err, want)
		}
	}
	if !m.Due(r) {
		t.Error("a token never asked for is not due")
	}
	get("token-1")
	got := (*reqs)[0]
	if *got.Spec.ExpirationSeconds != DefaultExpirationSeconds || got.Spec.BoundObjectRef.UID != "u1" || len(got.Spec.Audiences) != 0 {
		t.Errorf("request %+v, want 3607 s bound to pod u1 for the API's audience", got.Spec)
	}
	c.Step(10 * time.Second)
	if m.Due(r) {
		t.Error("due after 10s of 20s")
	}
	get("token-1")
	c.Step(10 * time.Second)
	if !m.Due(r) {
		t.Error("not due at max age")
	}
	get("token-2")
	m.Forget("u1")
	if !m.Due(r) {
		t.Error("a forgotten token is not due")
	}
	get("token-3")
}
