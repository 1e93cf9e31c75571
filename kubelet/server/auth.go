package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// The upstream kubelet's defaults for its webhooks: a token's review is
// cached 2 minutes, an allowed request 5 minutes, a refused one 30 seconds.
const (
	authnCacheTTL = 2 * time.Minute
	allowCacheTTL = 5 * time.Minute
	denyCacheTTL  = 30 * time.Second
	reviewTimeout = 10 * time.Second
)

// tlsConfig loads the serving pair and the client CA. Client certificates
// are verified when given, not required, so that a request without one gets
// an HTTP 401 rather than a failed handshake.
func tlsConfig(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load kubelet serving certificate %q: %w", cfg.CertFile, err)
	}
	caPEM, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA %q: %w", cfg.ClientCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("read client CA %q: no PEM certificate", cfg.ClientCAFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// auth is what the upstream kubelet runs with --anonymous-auth=false,
// --authentication-token-webhook and --authorization-mode=Webhook: a caller
// is a verified client certificate (user = CN, groups = O) or a bearer
// token the API server vouches for (TokenReview), and what it may do is the
// API server's answer to a SubjectAccessReview. Both answers are cached.
type auth struct {
	authn authenticator.Request
	authz authorizer.Authorizer
	node  string
}

// newAuth builds the delegating authenticator and authorizer of
// k8s.io/apiserver on cfg's client CA and API client.
func newAuth(cfg Config) (*auth, error) {
	if cfg.Client == nil {
		return nil, errors.New("kubelet server: no API client for token and access reviews")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("kubelet server: no node name to authorize requests against")
	}
	ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("load client CA %q: %w", cfg.ClientCAFile, err)
	}
	// Upstream's DefaultAuthWebhookRetryBackoff, written out: its package
	// (apiserver's server/options) would link the whole generic API server
	// into lab-kubelet, 230 packages, for these five numbers.
	backoff := &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                          nil, // anonymous requests get 401
		TokenAccessReviewClient:            cfg.Client.AuthenticationV1(),
		TokenAccessReviewTimeout:           reviewTimeout,
		WebhookRetryBackoff:                backoff,
		CacheTTL:                           authnCacheTTL,
		ClientCertificateCAContentProvider: ca,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("kubelet authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cfg.Client.AuthorizationV1(),
		AllowCacheTTL:             allowCacheTTL,
		DenyCacheTTL:              denyCacheTTL,
		WebhookRetryBackoff:       backoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("kubelet authorizer: %w", err)
	}
	return &auth{authn: authn, authz: authz, node: cfg.NodeName}, nil
}

// filter serves next only to callers the API server authorizes for the
// request's attributes: 401 for no (or an unknown) identity, 403 with the
// attributes refused, 500 when the review cannot be made.
func (a *auth) filter(log func(msg string, args ...any), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := a.authn.AuthenticateRequest(r)
		if err != nil || !ok {
			if err != nil {
				log("authenticate kubelet API request", "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := requestAttributes(resp.User, r, a.node)
		allowed, err := a.allowed(r.Context(), attrs)
		if err != nil {
			log("authorize kubelet API request", "user", resp.User.GetName(), "err", err)
			http.Error(w, "Authorization error "+describe(attrs), http.StatusInternalServerError)
			return
		}
		if !allowed {
			http.Error(w, "Forbidden "+describe(attrs), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowed: one of attrs (fine-grained first, then proxy) is allowed.
func (a *auth) allowed(ctx context.Context, attrs []authorizer.Attributes) (bool, error) {
	for _, at := range attrs {
		d, _, err := a.authz.Authorize(ctx, at)
		if err != nil {
			return false, err
		}
		if d == authorizer.DecisionAllow {
			return true, nil
		}
	}
	return false, nil
}

// describe says who asked for what, as the upstream kubelet's messages do:
// (user=U, verb=V, resource=nodes, subresource(s)=[S…]).
func describe(attrs []authorizer.Attributes) string {
	var subs []string
	for _, at := range attrs {
		subs = append(subs, at.GetSubresource())
	}
	a := attrs[0]
	return fmt.Sprintf("(user=%s, verb=%s, resource=%s, subresource(s)=[%s])",
		a.GetUser().GetName(), a.GetVerb(), a.GetResource(), strings.Join(subs, " "))
}

// requestAttributes maps a kubelet API request to what is authorized, as
// the upstream kubelet does (with KubeletFineGrainedAuthz, on by default):
// the node object named after this node, API verb from the HTTP method, and
// a subresource from the path. Paths with a fine-grained subresource list
// it first and proxy as the fallback; any other path is proxy (exec,
// containerLogs, portForward among them).
//
//	/stats/…      stats          /metrics…     metrics
//	/logs/…       log            /checkpoint/… checkpoint
//	/statusz      statusz        /flagz        configz
//	/configz      configz, proxy /healthz…     healthz, proxy
//	/pods…, /allocatedPods…, /runningpods/…    pods, proxy
func requestAttributes(u user.Info, r *http.Request, node string) []authorizer.Attributes {
	p := r.URL.Path
	var subs []string
	switch {
	case under(p, "/allocatedPods"), under(p, "/pods"), under(p, "/runningpods/"):
		subs = []string{"pods"}
	case under(p, "/healthz"):
		subs = []string{"healthz"}
	case under(p, "/configz"):
		subs = []string{"configz"}
	}
	switch {
	case under(p, "/stats/"):
		subs = append(subs, "stats")
	case under(p, "/metrics"):
		subs = append(subs, "metrics")
	case under(p, "/logs/"):
		subs = append(subs, "log")
	case under(p, "/checkpoint/"):
		subs = append(subs, "checkpoint")
	case under(p, "/statusz"):
		subs = append(subs, "statusz")
	case under(p, "/flagz"):
		subs = append(subs, "configz")
	default:
		subs = append(subs, "proxy")
	}
	attrs := make([]authorizer.Attributes, 0, len(subs))
	for _, s := range subs {
		attrs = append(attrs, authorizer.AttributesRecord{
			User: u, Verb: verb(r), APIVersion: "v1", Resource: "nodes", Subresource: s,
			Name: node, ResourceRequest: true, Path: p,
		})
	}
	return attrs
}

// under: path is dir or below it (dir's trailing slash optional).
func under(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// verb names the request the way the kubelet's authorizer does. HEAD, which
// upstream leaves without a verb (so always refused), is a get here: Go's
// mux answers it on GET routes.
func verb(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}
