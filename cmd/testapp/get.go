package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// get prints the body of cfg.URL to stdout. A non-2xx answer prints its body
// too, and is an error, so that a shell test sees both.
func get(ctx context.Context, cfg getConfig, stdout io.Writer) error {
	client := &http.Client{
		Timeout: cfg.Timeout,
		// Inside a pod no proxy applies, and each get is a fresh connection, as
		// a Service test expects (a new connection may pick a new endpoint).
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: cfg.Insecure}},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", cfg.URL, err)
	}
	if cfg.TokenFile != "" {
		tok, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("get %s: bearer token: %w", cfg.URL, err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error would repeat the method and URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("get %s (timeout %s): %w", cfg.URL, cfg.Timeout, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("get %s: read body: %w", cfg.URL, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("get %s: server answered %s", cfg.URL, resp.Status)
	}
	return nil
}
