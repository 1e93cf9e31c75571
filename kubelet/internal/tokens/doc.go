// Package tokens is the kubelet's service-account token manager: it asks
// the TokenRequest API for the tokens of projected volumes, bound to their
// pod, keeps them, and says when one is due for a new one, as the upstream
// kubelet's token manager does: when it is older than 80 % of its lifetime
// or older than MaxAge (upstream: 24 hours; the lab's fast timing profile
// makes it seconds, since the API refuses lifetimes under 10 minutes).
//
//	m := tokens.New(client, 24*time.Hour, clock.RealClock{})
//	req := tokens.Request{Pod: pod, ServiceAccount: "default", ExpirationSeconds: 3607}
//	tok, err := m.Get(ctx, req)   // cached until due
//	if m.Due(req) { … }           // rewrite the volume: Get asks anew
//	m.Forget(pod.UID)             // when the pod is gone
//
// Due is a pure function of a token's request, the time and MaxAge.
package tokens
