package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
)

// The extension API that `testapp webhook --requestheader-ca-file` serves:
// an aggregated API server's smallest form, for specs of the aggregator. Its
// one resource, whoami, answers who the aggregator says the caller is.
const (
	whoamiGroupVersion = "whoami.kinns.io/v1"
	// frontProxyName is the only proxy certificate's name it trusts, as
	// kube-apiserver's --requestheader-allowed-names in a lab.
	frontProxyName = "front-proxy-client"
)

// requestHeaderTLS asks callers for a client certificate of caFile's CA
// (the front proxy's), leaving others, such as webhook calls, without one.
func requestHeaderTLS(cfg *tls.Config, caFile string) error {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read request header CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("no certificate in request header CA %s", caFile)
	}
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	return nil
}

// whoamiRoutes adds the discovery document and the resource to mux.
func whoamiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /apis/"+whoamiGroupVersion, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": whoamiGroupVersion,
			"resources": []map[string]any{{"name": "whoami", "namespaced": false, "kind": "WhoAmI", "verbs": []string{"get"}}}})
	})
	mux.HandleFunc("GET /apis/"+whoamiGroupVersion+"/whoami", handleWhoAmI)
}

// handleWhoAmI trusts the X-Remote-* headers only from the front proxy: a
// verified certificate named frontProxyName.
func handleWhoAmI(w http.ResponseWriter, r *http.Request) {
	user, groups, ok := remoteUser(r)
	if !ok {
		reply(w, http.StatusUnauthorized, "no front proxy client certificate\n")
		return
	}
	writeJSON(w, map[string]any{"kind": "WhoAmI", "apiVersion": whoamiGroupVersion, "user": user, "groups": groups})
}

func remoteUser(r *http.Request) (string, []string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.VerifiedChains[0][0].Subject.CommonName != frontProxyName {
		return "", nil, false
	}
	var groups []string
	for _, g := range r.Header.Values("X-Remote-Group") {
		groups = append(groups, strings.Split(g, ",")...)
	}
	slices.Sort(groups)
	return r.Header.Get("X-Remote-User"), groups, true
}
