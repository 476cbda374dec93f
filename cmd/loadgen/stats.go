package main

import (
	"slices"
	"sync"
	"time"
)

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// summary is the distribution of a set of durations.
type summary struct {
	n                  int
	p50, p95, p99, max time.Duration
}

func (l *latencies) summary() summary {
	l.mu.Lock()
	sorted := slices.Clone(l.d)
	l.mu.Unlock()
	return summarize(sorted)
}

// summarize sorts ds in place and returns its percentiles.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	slices.Sort(ds)
	return summary{
		n:   len(ds),
		p50: percentile(ds, 50),
		p95: percentile(ds, 95),
		p99: percentile(ds, 99),
		max: ds[len(ds)-1],
	}
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest value that at least p percent of the values do not exceed. It
// never interpolates, so a p99 is a latency some request really had.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
