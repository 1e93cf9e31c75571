package proxy

import (
	"bytes"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kinns/kinns/proxy/rules"
)

// metrics are kube-proxy's sync metrics, under their upstream names so
// that dashboards made for kube-proxy read them.
type metrics struct {
	registry   *prometheus.Registry
	duration   prometheus.Histogram
	last       prometheus.Gauge
	rules      *prometheus.GaugeVec
	endpoints  prometheus.Gauge
	syncErrors prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_duration_seconds",
			Help:    "How long one sync of the proxy's rules took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_last_timestamp_seconds",
			Help: "When the rules were last synced, in seconds since the epoch.",
		}),
		rules: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_iptables_total",
			Help: "Rules the proxy wrote at its last sync, by table.",
		}, []string{"table"}),
		endpoints: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_endpoint_slices_total",
			Help: "EndpointSlices seen at the last sync.",
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kinns", Subsystem: "proxy", Name: "sync_errors_total",
			Help: "Syncs that failed (and were retried).",
		}),
	}
	m.registry.MustRegister(m.duration, m.last, m.rules, m.endpoints, m.syncErrors)
	return m
}

func (m *metrics) synced(took time.Duration, out rules.Output, slices []*discoveryv1.EndpointSlice) {
	m.duration.Observe(took.Seconds())
	m.last.SetToCurrentTime()
	for table, n := range rulesByTable(out.Text) {
		m.rules.WithLabelValues(table).Set(float64(n))
	}
	m.endpoints.Set(float64(len(slices)))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// rulesByTable counts the -A lines of each table in restore text.
func rulesByTable(text []byte) map[string]int {
	n := map[string]int{}
	table := ""
	for line := range bytes.Lines(text) {
		switch {
		case bytes.HasPrefix(line, []byte("*")):
			table = string(bytes.TrimSpace(line[1:]))
			n[table] += 0
		case bytes.HasPrefix(line, []byte("-A ")):
			n[table]++
		}
	}
	return n
}
