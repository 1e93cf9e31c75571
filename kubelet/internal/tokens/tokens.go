package tokens

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// DefaultExpirationSeconds is the lifetime asked for when a projection
// names none: the API's default for projections, 3607 s (an hour and the
// 7 s by which the API server recognises a kubelet's token).
const DefaultExpirationSeconds int64 = 3607

// Request is a token of a pod's service account.
type Request struct {
	Pod            *v1.Pod
	ServiceAccount string
	// Audience is the token's audience; "" means the API server's.
	Audience string
	// ExpirationSeconds is the lifetime asked for; 0 means the default.
	ExpirationSeconds int64
}

type key struct {
	uid                types.UID
	namespace, account string
	audience           string
	seconds            int64
}

func (r Request) key() key {
	return key{r.Pod.UID, r.Pod.Namespace, r.ServiceAccount, r.Audience, r.seconds()}
}

func (r Request) seconds() int64 {
	if r.ExpirationSeconds == 0 {
		return DefaultExpirationSeconds
	}
	return r.ExpirationSeconds
}

// Manager hands out tokens and keeps them until they are due. Its methods
// may be called concurrently.
type Manager struct {
	client kubernetes.Interface
	maxAge time.Duration
	clock  clock.PassiveClock

	mu    sync.Mutex
	cache map[key]*authenticationv1.TokenRequest
}

// New makes a manager whose tokens are due at 80 % of their lifetime or
// after maxAge (zero: 24 hours, upstream's).
func New(client kubernetes.Interface, maxAge time.Duration, c clock.PassiveClock) *Manager {
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	return &Manager{client: client, maxAge: maxAge, clock: c, cache: map[key]*authenticationv1.TokenRequest{}}
}

// Get returns the kept token of r, or a new one when there is none or it
// is due.
func (m *Manager) Get(ctx context.Context, r Request) (string, error) {
	k := r.key()
	m.mu.Lock()
	tr, ok := m.cache[k]
	m.mu.Unlock()
	if ok && !Due(tr, m.clock.Now(), m.maxAge) {
		return tr.Status.Token, nil
	}
	tr, err := m.request(ctx, r)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	m.cache[k] = tr
	m.mu.Unlock()
	return tr.Status.Token, nil
}

// Due: r has no kept token, or it is due.
func (m *Manager) Due(r Request) bool {
	m.mu.Lock()
	tr, ok := m.cache[r.key()]
	m.mu.Unlock()
	return !ok || Due(tr, m.clock.Now(), m.maxAge)
}

// Forget drops the tokens of a pod.
func (m *Manager) Forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.cache {
		if k.uid == uid {
			delete(m.cache, k)
		}
	}
}

// request asks the TokenRequest API for a token bound to the pod; the Node
// authorizer lets a kubelet do so only for pods bound to its node.
func (m *Manager) request(ctx context.Context, r Request) (*authenticationv1.TokenRequest, error) {
	seconds := r.seconds()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: r.Pod.Name, UID: r.Pod.UID},
	}}
	if r.Audience != "" {
		req.Spec.Audiences = []string{r.Audience}
	}
	tr, err := m.client.CoreV1().ServiceAccounts(r.Pod.Namespace).CreateToken(ctx, r.ServiceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token of service account %s/%s: %w", r.Pod.Namespace, r.ServiceAccount, err)
	}
	return tr, nil
}

// Due says whether a token the API issued is due for a new one at now: it
// is older than maxAge, or than 80 % of its lifetime. Its issue time is its
// expiry less the lifetime asked for (the answer's spec). A token whose
// lifetime is unknown is never due (the API always says).
func Due(tr *authenticationv1.TokenRequest, now time.Time, maxAge time.Duration) bool {
	if tr.Spec.ExpirationSeconds == nil {
		return false
	}
	life := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	exp := tr.Status.ExpirationTimestamp.Time
	iat := exp.Add(-life)
	return !now.Before(iat.Add(maxAge)) || !now.Before(exp.Add(-life/5))
}
