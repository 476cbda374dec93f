package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// histogram is a cumulative Prometheus histogram without other labels:
// for each bucket, its upper bound and the observations at or below it.
type histogram struct {
	bounds []float64
	counts []float64
}

// parseHistogram reads histogram name from the Prometheus text format.
func parseHistogram(text, name string) (histogram, error) {
	prefix := name + `_bucket{le="`
	type bucket struct{ le, n float64 }
	var bs []bucket
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return histogram{}, fmt.Errorf("%s: unexpected line %q", name, sc.Text())
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err1 != nil || err2 != nil {
			return histogram{}, fmt.Errorf("%s: unexpected line %q", name, sc.Text())
		}
		bs = append(bs, bucket{bound, n})
	}
	if len(bs) == 0 {
		return histogram{}, fmt.Errorf("the server exports no histogram %s", name)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	var h histogram
	for _, b := range bs {
		h.bounds = append(h.bounds, b.le)
		h.counts = append(h.counts, b.n)
	}
	return h, sc.Err()
}

// minus returns the observations made between o and h, two scrapes of the
// same histogram.
func (h histogram) minus(o histogram) histogram {
	d := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		d.counts[i] = h.counts[i]
		if i < len(o.counts) {
			d.counts[i] -= o.counts[i]
		}
	}
	return d
}

func (h histogram) total() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// quantile returns the upper bound of the bucket holding the q-quantile:
// the figure is "at most this", as precise as the server's buckets.
func (h histogram) quantile(q float64) float64 {
	want := q * h.total()
	for i, n := range h.counts {
		if n >= want {
			return h.bounds[i]
		}
	}
	return math.Inf(1)
}

// atMost returns the fraction of observations at or below bound seconds,
// when bound is one of the bucket bounds.
func (h histogram) atMost(bound float64) (float64, bool) {
	for i, b := range h.bounds {
		if b == bound && h.total() > 0 {
			return h.counts[i] / h.total(), true
		}
	}
	return 0, false
}

// scrapeHistogram reads histogram name from the server's /metrics.
func (a *apiClient) scrapeHistogram(ctx context.Context, name string) (histogram, error) {
	text, err := a.scrape(ctx, name)
	if err != nil {
		return histogram{}, err
	}
	return parseHistogram(text, name)
}

// scrapeCounter reads counter name, one without labels, from the server's
// /metrics.
func (a *apiClient) scrapeCounter(ctx context.Context, name string) (float64, error) {
	text, err := a.scrape(ctx, name)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(text) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return strconv.ParseFloat(value, 64)
		}
	}
	return 0, fmt.Errorf("the server exports no counter %s", name)
}

// scrape returns the lines of the server's /metrics that start with prefix.
func (a *apiClient) scrape(ctx context.Context, prefix string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metrics+"/metrics", nil)
	if err != nil {
		return "", err
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %d", res.StatusCode)
	}
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			b.WriteString(sc.Text())
			b.WriteByte('\n')
		}
	}
	return b.String(), sc.Err()
}

// seconds turns a bucket bound into a duration; +Inf stays unbounded.
func seconds(s float64) time.Duration {
	if math.IsInf(s, 1) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
