package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Tokens the fake API server knows, and the service account each is.
var testTokens = map[string]string{
	"reader-token": "system:serviceaccount:default:reader", // may get nodes/proxy
	"nobody-token": "system:serviceaccount:default:nobody", // has no rights
}

// fakeAPI is an API server that answers TokenReviews from testTokens and
// SubjectAccessReviews as the lab's RBAC would: system:masters may do
// anything, the reader may get nodes/proxy of node-1; everyone else is
// refused. It records the reviews. (The delegating authorizer needs a real
// REST client: client-go's fake clientset has none.)
func fakeAPI(t *testing.T) (kubernetes.Interface, *reviewLog) {
	seen := &reviewLog{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", func(w http.ResponseWriter, r *http.Request) {
		var tr authenticationv1.TokenReview
		json.NewDecoder(r.Body).Decode(&tr)
		if name, ok := testTokens[tr.Spec.Token]; ok {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
				Username: name, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"},
			}}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&tr)
	})
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		var sar authorizationv1.SubjectAccessReview
		json.NewDecoder(r.Body).Decode(&sar)
		ra := sar.Spec.ResourceAttributes
		seen.add(*ra)
		reader := sar.Spec.User == testTokens["reader-token"] && ra.Verb == "get" && ra.Resource == "nodes" &&
			ra.Subresource == "proxy" && ra.Name == "node-1"
		sar.Status.Allowed = slices.Contains(sar.Spec.Groups, "system:masters") || reader
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&sar)
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	return cs, seen
}

// reviewLog records the attributes of SubjectAccessReviews, from the
// server's goroutines.
type reviewLog struct {
	mu   sync.Mutex
	seen []authorizationv1.ResourceAttributes
}

func (l *reviewLog) add(a authorizationv1.ResourceAttributes) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, a)
}

func (l *reviewLog) last() authorizationv1.ResourceAttributes {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[len(l.seen)-1]
}

func TestAuthIdentities(t *testing.T) {
	env := startServer(t)
	tests := []struct {
		name, identity, token string
		code                  int
		body                  string
	}{
		{"api server certificate", "apiserver", "", 200, "line 1"},
		{"admin certificate", "admin", "", 200, "line 1"},
		{"anonymous", "", "", 401, "Unauthorized"},
		{"unknown token", "", "forged", 401, "Unauthorized"},
		{"node certificate", "node", "", 403, "Forbidden (user=system:node:node-1, verb=get, resource=nodes, subresource(s)=[proxy])"},
		{"token without rights", "", "nobody-token", 403, "Forbidden (user=system:serviceaccount:default:nobody, verb=get, resource=nodes, subresource(s)=[proxy])"},
		{"token with nodes/proxy", "", "reader-token", 200, "line 1"},
		{"healthz, anonymous", "", "", 401, "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/containerLogs/default/web/app"
			if strings.HasPrefix(tt.name, "healthz") {
				path = "/healthz"
			}
			req, _ := http.NewRequest(http.MethodGet, env.url+path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			code, body := env.do(t, tt.identity, req)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("got %d %q, want %d %q", code, body, tt.code, tt.body)
			}
		})
	}
}

func TestAuthReviewsTheNode(t *testing.T) {
	env := startServer(t)
	req, _ := http.NewRequest(http.MethodPost, env.url+"/exec/default/web/app?command=true&output=1", nil)
	req.Header.Set("Authorization", "Bearer nobody-token")
	if code, body := env.do(t, "", req); code != 403 || !strings.Contains(body, "verb=create") {
		t.Fatalf("exec by nobody: %d %q, want 403 naming verb=create", code, body)
	}
	last := env.reviews.last()
	want := authorizationv1.ResourceAttributes{Verb: "create", Version: "v1", Resource: "nodes", Subresource: "proxy", Name: "node-1"}
	if last != want {
		t.Errorf("reviewed %+v, want %+v", last, want)
	}
}

func TestRequestAttributes(t *testing.T) {
	u := &user.DefaultInfo{Name: "alice"}
	tests := []struct {
		method, path string
		verb         string
		subs         []string
	}{
		{"GET", "/containerLogs/default/web/app", "get", []string{"proxy"}},
		{"POST", "/exec/default/web/app", "create", []string{"proxy"}},
		{"GET", "/portForward/default/web", "get", []string{"proxy"}},
		{"HEAD", "/containerLogs/default/web/app", "get", []string{"proxy"}},
		{"PUT", "/run/default/web/app", "update", []string{"proxy"}},
		{"PATCH", "/x", "patch", []string{"proxy"}},
		{"DELETE", "/x", "delete", []string{"proxy"}},
		{"OPTIONS", "/x", "", []string{"proxy"}},
		{"GET", "/stats/summary", "get", []string{"stats"}},
		{"GET", "/stats", "get", []string{"stats"}},
		{"GET", "/statsfoo", "get", []string{"proxy"}},
		{"GET", "/metrics", "get", []string{"metrics"}},
		{"GET", "/metrics/cadvisor", "get", []string{"metrics"}},
		{"GET", "/logs/syslog", "get", []string{"log"}},
		{"POST", "/checkpoint/default/web/app", "create", []string{"checkpoint"}},
		{"GET", "/statusz", "get", []string{"statusz"}},
		{"GET", "/flagz", "get", []string{"configz"}},
		{"GET", "/configz", "get", []string{"configz", "proxy"}},
		{"GET", "/healthz", "get", []string{"healthz", "proxy"}},
		{"GET", "/healthz/ping", "get", []string{"healthz", "proxy"}},
		{"GET", "/pods", "get", []string{"pods", "proxy"}},
		{"GET", "/pods/", "get", []string{"pods", "proxy"}},
		{"GET", "/podsx", "get", []string{"proxy"}},
		{"GET", "/runningpods/", "get", []string{"pods", "proxy"}},
		{"GET", "/allocatedPods", "get", []string{"pods", "proxy"}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		attrs := requestAttributes(u, r, "node-1")
		var subs []string
		for _, a := range attrs {
			subs = append(subs, a.GetSubresource())
			if a.GetVerb() != tt.verb || a.GetResource() != "nodes" || a.GetName() != "node-1" ||
				a.GetAPIVersion() != "v1" || a.GetAPIGroup() != "" || a.GetNamespace() != "" ||
				!a.IsResourceRequest() || a.GetPath() != tt.path || a.GetUser() != u {
				t.Errorf("%s %s: attributes %+v", tt.method, tt.path, a)
			}
		}
		if !slices.Equal(subs, tt.subs) {
			t.Errorf("%s %s: subresources %v, want %v", tt.method, tt.path, subs, tt.subs)
		}
	}
}

func TestNewAuthNeedsClientAndNode(t *testing.T) {
	cs, _ := fakeAPI(t)
	if _, err := newAuth(Config{NodeName: "node-1", ClientCAFile: "/nonexistent"}); err == nil || !strings.Contains(err.Error(), "API client") {
		t.Errorf("no client: %v", err)
	}
	if _, err := newAuth(Config{Client: cs, ClientCAFile: "/nonexistent"}); err == nil || !strings.Contains(err.Error(), "node name") {
		t.Errorf("no node: %v", err)
	}
	if _, err := newAuth(Config{Client: cs, NodeName: "node-1", ClientCAFile: "/nonexistent"}); err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("no CA: %v", err)
	}
}
