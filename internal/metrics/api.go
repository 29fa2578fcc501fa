package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var apiWriteLimit = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "ark_api_write_concurrency_limit",
	Help: "How many write requests the server lets be in flight at the API server now: it grows while writes succeed quickly and shrinks on 429s and rising latency.",
})

func init() {
	metrics.Registry.MustRegister(apiWriteLimit)
}

// APIWriteLimit records the adaptive limit of writes in flight.
func APIWriteLimit(limit int) {
	apiWriteLimit.Set(float64(limit))
}
