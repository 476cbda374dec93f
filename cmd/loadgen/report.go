package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one measured quantity of a scenario.
type row struct {
	name    string
	sum     summary
	count   int           // events; sum.n when zero
	elapsed time.Duration // over which count happened, for the rate
	note    string
}

// report is what a scenario measured.
type report struct {
	scenario string
	conns    int // connections held while measuring
	rows     []row
	// rssBefore and rssAfter are the server's resident memory before the
	// connections were opened and once they were all open; zero when no
	// --pid was given.
	rssBefore, rssAfter int64
	tally               tally
	errors              int      // failed requests and connections
	dropped             int      // connections the server ended
	failures            []string // why the run fails, beyond lost and duplicated deliveries
	notes               []string
}

func (r *report) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// ok reports whether the run passed: nothing lost, nothing duplicated, no
// errors, no drops, no other failure.
func (r *report) ok() bool {
	return r.tally.lost == 0 && r.tally.duplicated == 0 && r.errors == 0 && r.dropped == 0 && len(r.failures) == 0
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s with %d connections\n", r.scenario, r.conns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tcount\tper s\tp50\tp95\tp99\tmax\t")
	for _, x := range r.rows {
		n := x.count
		if n == 0 {
			n = x.sum.n
		}
		rate := "-"
		if x.elapsed > 0 {
			rate = fmt.Sprintf("%.1f", float64(n)/x.elapsed.Seconds())
		}
		name := x.name
		if x.note != "" {
			name += " (" + x.note + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, n, rate, ms(x.sum.p50), ms(x.sum.p95), ms(x.sum.p99), ms(x.sum.max))
	}
	_ = tw.Flush()
	if r.rssAfter > 0 {
		per := "-"
		if r.conns > 0 {
			per = fmt.Sprintf("%.1f KiB", float64(r.rssAfter-r.rssBefore)/float64(r.conns)/1024)
		}
		fmt.Fprintf(w, "server resident memory: %.1f MiB before, %.1f MiB with the connections open: %s per connection\n",
			mib(r.rssBefore), mib(r.rssAfter), per)
	}
	t := r.tally
	fmt.Fprintf(w, "deliveries: %d expected, %d delivered, %d lost, %d duplicated, %d unexpected\n",
		t.expected, t.delivered, t.lost, t.duplicated, t.unexpected)
	fmt.Fprintf(w, "errors: %d; connections dropped by the server: %d\n", r.errors, r.dropped)
	for _, n := range r.notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, f := range r.failures {
		fmt.Fprintln(w, "FAIL:", f)
	}
	if r.ok() {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	switch d {
	case 0:
		return "-"
	case math.MaxInt64:
		return "+Inf"
	}
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.1fms", v)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.0fms", v), ".")
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
