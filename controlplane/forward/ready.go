package forward

import (
	"context"
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
