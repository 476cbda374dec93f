package notify

import "github.com/prometheus/client_golang/prometheus"

// metrics are the hub's Prometheus collectors. They are registered on the
// Registerer given to New, never on the global registry.
type metrics struct {
	connections   prometheus.Gauge
	users         prometheus.Gauge
	framesSent    [numKinds]prometheus.Counter
	overflows     prometheus.Counter
	publishErrors prometheus.Counter
	resubscribes  prometheus.Counter
	gaps          prometheus.Counter
	threadReads   prometheus.Counter
	replayConnect prometheus.Observer
	replayCatchUp prometheus.Observer
	latency       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	frames := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "discuss_ws_frames_sent_total",
		Help: "WebSocket frames written to clients, by frame type.",
	}, []string{"type"})
	replay := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "discuss_ws_replay_notifications",
		Help:    "Notifications replayed from the database to one connection, on connect or to catch up after a broker outage.",
		Buckets: []float64{0, 1, 5, 10, 25, 50, 100, 250, 500},
	}, []string{"reason"})
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		connections: gauge("discuss_ws_connections",
			"WebSocket connections open on this instance."),
		users: gauge("discuss_ws_users",
			"Distinct users with a WebSocket connection open on this instance."),
		overflows: counter("discuss_ws_queue_overflows_total",
			"Connections closed with 1013 because their send queue was full."),
		publishErrors: counter("discuss_broker_publish_errors_total",
			"Publishes the broker refused or timed out; clients recover them from the database."),
		resubscribes: counter("discuss_broker_resubscribes_total",
			"Times the broker subscription was re-established after a loss, each followed by a catch-up for the connections that missed something."),
		gaps: counter("discuss_ws_sequence_gaps_total",
			"Live notifications that arrived before one of their user's earlier ones, so that the connection read the gap from the database first."),
		threadReads: counter("discuss_live_thread_reads_total",
			"Reads of a followed post's comments by its feed, for a comment that arrived before its predecessor (one read for all of the instance's subscribers of the post)."),
		replayConnect: replay.WithLabelValues("connect"),
		replayCatchUp: replay.WithLabelValues("catch_up"),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "discuss_notify_delivery_seconds",
			Help:    "From publishing a notification (just after its commit) to writing it to a connection.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	// kindCatchUp is never written and kindPing is a control frame, so
	// neither gets a series.
	for k := range kindCatchUp {
		m.framesSent[k] = frames.WithLabelValues(k.String())
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.users, frames, m.overflows, m.publishErrors, m.resubscribes, m.gaps, m.threadReads, replay, m.latency)
	}
	return m
}
