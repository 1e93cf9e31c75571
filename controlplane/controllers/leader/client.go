package leader

import (
	"time"

	"k8s.io/client-go/rest"
)

// LeaseClientConfig is rc made fit for renewing a Lease through a load
// balancer: every request gives up after timeout, and rides its own
// HTTP/1.1 connection, which a timed-out request closes. Over the usual
// HTTP/2 connection, one stuck on an API server that was cut off would
// hold every renewal until the connection's health check gave up (tens of
// seconds), past RenewDeadline; a new connection goes through the
// balancer again, to an API server that answers.
func LeaseClientConfig(rc *rest.Config, userAgent string, timeout time.Duration) *rest.Config {
	c := rest.AddUserAgent(rest.CopyConfig(rc), userAgent)
	c.Timeout = timeout
	c.TLSClientConfig.NextProtos = []string{"http/1.1"}
	return c
}
