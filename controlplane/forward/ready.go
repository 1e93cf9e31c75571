package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
)

// GetOK asks url with client and says whether it answered 200 OK: an API
// server's /readyz, as the balancer and the harness ask it.
func GetOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Handshake is a liveness check: it says whether target completes a TLS
// handshake with config. A process that is stopped refuses the connection,
// and one that is paused or cut off never answers; one that is up answers
// at once, however slow the work behind its readiness may be.
func Handshake(config *tls.Config) Check {
	return func(ctx context.Context, target string) error {
		d := tls.Dialer{Config: config}
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
