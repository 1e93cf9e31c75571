package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// webhookConfig is what the webhook mode needs.
type webhookConfig struct {
	Addr              string
	CertFile, KeyFile string
	Rules             webhookRules
	// RequestHeaderCAFile, if set, is the front proxy's CA: the server then
	// also serves the aggregated API whoami.kinns.io/v1 (see whoami.go).
	RequestHeaderCAFile string
}

func parseWebhookFlags(args []string, getenv func(string) string) (webhookConfig, error) {
	fs := newFlagSet("webhook")
	port := fs.Int("port", 8443, "HTTPS port")
	cert := fs.String("tls-cert-file", "/etc/webhook/tls.crt", "serving certificate (PEM)")
	key := fs.String("tls-key-file", "/etc/webhook/tls.key", "serving key (PEM)")
	deny := fs.String("deny-label", "", "deny objects with this label, KEY=VALUE or KEY")
	add := fs.String("add-label", "", "add this label, KEY=VALUE, to admitted objects (/mutate)")
	rhCA := fs.String("requestheader-ca-file", "", "the front proxy's CA: serve the aggregated API "+whoamiGroupVersion)
	if err := setFromEnv(fs, getenv); err != nil {
		return webhookConfig{}, err
	}
	if err := fs.Parse(args); err != nil {
		return webhookConfig{}, err
	}
	if fs.NArg() > 0 {
		return webhookConfig{}, fmt.Errorf("webhook takes no arguments, got %q", fs.Args())
	}
	if *port < 0 || *port > 65535 {
		return webhookConfig{}, fmt.Errorf("port %d out of range", *port)
	}
	if *deny != "" && strings.HasPrefix(*deny, "=") {
		return webhookConfig{}, fmt.Errorf("--deny-label %q has no key", *deny)
	}
	if k, _, ok := strings.Cut(*add, "="); *add != "" && (!ok || k == "") {
		return webhookConfig{}, fmt.Errorf("--add-label %q is not KEY=VALUE", *add)
	}
	return webhookConfig{Addr: fmt.Sprintf(":%d", *port), CertFile: *cert, KeyFile: *key,
		Rules: webhookRules{DenyLabel: *deny, AddLabel: *add}, RequestHeaderCAFile: *rhCA}, nil
}

func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseWebhookFlags(args, os.Getenv)
	if err != nil {
		return flagExit(err, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := listenTLS(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "testapp: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serveWebhook(ctx, ln, cfg.Rules, cfg.RequestHeaderCAFile != "", log); err != nil {
		fmt.Fprintf(stderr, "testapp: %v\n", err)
		return 1
	}
	return 0
}

// listenTLS opens the webhook's port with its certificate, read once at start.
func listenTLS(cfg webhookConfig) (net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load serving certificate %s: %w", cfg.CertFile, err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.RequestHeaderCAFile != "" {
		if err := requestHeaderTLS(tc, cfg.RequestHeaderCAFile); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return tls.NewListener(ln, tc), nil
}

// serveWebhook serves until ctx ends; it owns ln.
func serveWebhook(ctx context.Context, ln net.Listener, rules webhookRules, whoami bool, log *slog.Logger) error {
	srv := &http.Server{Handler: webhookRoutes(rules, whoami, log), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // the process ends either way
	})
	log.Info("serving webhooks", "addr", ln.Addr().String(), "deny-label", rules.DenyLabel, "add-label", rules.AddLabel)
	err := srv.Serve(ln)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// webhookRoutes: /validate applies the deny rule, /mutate also adds the
// label, /convert is a CRD conversion webhook, /healthz answers "ok"; with
// whoami, the aggregated API too.
func webhookRoutes(rules webhookRules, whoami bool, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", handleAdmission(webhookRules{DenyLabel: rules.DenyLabel}, log))
	mux.HandleFunc("POST /mutate", handleAdmission(rules, log))
	mux.HandleFunc("POST /convert", handleConversion(log))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, "ok") })
	if whoami {
		whoamiRoutes(mux)
	}
	return mux
}

// maxReview bounds a review's body (the API server sends at most a few MB).
const maxReview = 8 << 20

func handleAdmission(rules webhookRules, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review admissionReview
		err := decodeReview(r, &review)
		if err == nil && review.Request == nil {
			err = errNoRequest
		}
		if err != nil {
			reply(w, http.StatusBadRequest, fmt.Sprintf("not an AdmissionReview request: %v\n", err))
			return
		}
		resp, err := admit(*review.Request, rules)
		if err != nil {
			reply(w, http.StatusBadRequest, err.Error()+"\n")
			return
		}
		log.Info("admission", "from", clientIP(r.RemoteAddr), "path", r.URL.Path, "uid", resp.UID, "operation", review.Request.Operation, "allowed", resp.Allowed, "patched", resp.Patch != nil)
		writeJSON(w, admissionReview{APIVersion: review.APIVersion, Kind: "AdmissionReview", Response: &resp})
	}
}

func handleConversion(log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review conversionReview
		err := decodeReview(r, &review)
		if err == nil && review.Request == nil {
			err = errNoRequest
		}
		if err != nil {
			reply(w, http.StatusBadRequest, fmt.Sprintf("not a ConversionReview request: %v\n", err))
			return
		}
		resp := convert(*review.Request)
		log.Info("conversion", "from", clientIP(r.RemoteAddr), "uid", resp.UID, "to", review.Request.DesiredAPIVersion, "objects", len(resp.ConvertedObjects), "status", resp.Result.Status)
		writeJSON(w, conversionReview{APIVersion: review.APIVersion, Kind: "ConversionReview", Response: &resp})
	}
}

func decodeReview(r *http.Request, into any) error {
	return json.NewDecoder(io.LimitReader(r.Body, maxReview)).Decode(into)
}

// errNoRequest is a review without its request.
var errNoRequest = errors.New("no request in the review")

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the caller has gone
}
