// Command loadgen measures the discuss server against the performance
// targets of DESIGN.md. It speaks only the public API (REST and /ws) to a
// server on this machine's loopback addresses, with users made by
// `discuss seed` (in binaries built with -tags loadtest), and prints a table
// per scenario:
//
//	idle        hold connections; resident memory per connection
//	push        admin notifications to random connected users; commit to frame
//	reply       comments on connected users' posts; REST POST to frame, throughput
//	reconnect   everyone leaves, replies arrive, everyone returns with since
//	broadcast   admin broadcasts; the last connection's receipt
//	fanout      comments on a post that --watchers connected users watch;
//	            POST to the last watcher's frame
//	thread-read GET /posts/{id}/comments on a long thread at a fixed rate
//	thread-live comments on a post that --subscribers connections follow
//	            (subscribe_post); POST to the last subscriber's frame, and
//	            the push to the other users meanwhile
//	resubscribe the server loses Redis while notifications are made on
//	            another instance; every one arrives after it is back
//	db-ceiling  the server's SQL for a reply and a thread page through
//	            database/sql alone: what the database allows
//	db-push     a system notification's transaction through database/sql
//	            at push's rate: MariaDB's part of push's latency
//	snapshot    one user's notifications written as the server writes them
//	            while readers count holes in what they see, unbounded and
//	            bounded by an earlier head read (why the hub reads so)
//
// `loadgen bare -listen ADDR` serves instead the least a server can do for
// idle and broadcast (hello, one frame written to every socket; see
// bare.go), to run those scenarios against beside the real server.
//
// It exits 1 when any delivery is lost or duplicated, a request or
// connection fails, or the server drops a connection; 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	base             *url.URL
	metricsBase      *url.URL
	scenario         string
	usersFile        string
	conns            int
	rate             float64
	duration         time.Duration
	count            int
	pid              int
	adminToken       string
	shard, shards    int
	sources          int
	dialConcurrency  int
	stormConcurrency int
	inflight         int
	postID           int64
	query            string
	likeEvery        int
	timeout          time.Duration
	settle           time.Duration
	progress         time.Duration
	maxRun           time.Duration
	cpuProfile       string
	writerURL        *url.URL
	brokerProxy      string
	dsn              string
	workers          int
	watchers         int
	subscribers      int
	gorillaReaders   bool
	commenters       int
	// startAt, when set, is when push and thread-live begin to send.
	startAt time.Time
}

// namedScenario is a scenario and the name --scenario gives it.
type namedScenario struct {
	name string
	run  func(*runner, context.Context) error
}

// scenarios are the scenarios in the order the usage lists them.
func scenarios() []namedScenario {
	return []namedScenario{
		{"idle", (*runner).idle},
		{"push", (*runner).push},
		{"reply", (*runner).reply},
		{"reconnect", (*runner).reconnect},
		{"broadcast", (*runner).broadcast},
		{"fanout", (*runner).fanout},
		{"thread-read", (*runner).threadRead},
		{"thread-live", (*runner).threadLive},
		{"resubscribe", (*runner).resubscribe},
		{"db-ceiling", (*runner).dbCeiling},
		{"db-push", (*runner).dbPush},
		{"snapshot", (*runner).snapshotHoles},
	}
}

// scenario returns the scenario called name, or nil.
func scenario(name string) func(*runner, context.Context) error {
	for _, s := range scenarios() {
		if s.name == name {
			return s.run
		}
	}
	return nil
}

// scenarioNames lists the scenarios' names, for the usage and its errors.
func scenarioNames() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	return names
}

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	rawURL := fs.String("url", "http://127.0.0.1:8080", "the server's base `URL`; a loopback address")
	rawMetricsURL := fs.String("metrics-url", "", "base `URL` of the server's /metrics: its internal listener (server.internal_addr) when it has one; default --url")
	names := scenarioNames()
	fs.StringVar(&c.scenario, "scenario", "", strings.Join(names[:len(names)-1], ", ")+" or "+names[len(names)-1])
	fs.StringVar(&c.usersFile, "users", "", "the `file` of `discuss seed` (id username token post_id per line)")
	fs.IntVar(&c.conns, "conns", 0, "WebSocket `connections` to hold, one per user; 0: every user of the shard")
	fs.Float64Var(&c.rate, "rate", 0, "events per `second` (push, db-push, reply, reconnect replies, fanout, thread-read, thread-live); 0: the scenario's default")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to send (push, db-push, reply, fanout, thread-read), hold (idle) or run each phase (db-ceiling)")
	fs.IntVar(&c.count, "count", 0, "broadcasts to send, or missed replies (reconnect) or notifications (resubscribe) per user; 0: the default (5, 1, 1)")
	fs.IntVar(&c.pid, "pid", 0, "the server's process `id`, to read its resident memory from /proc")
	fs.StringVar(&c.adminToken, "admin-token", "", "an admin's `token` (push, broadcast; elsewhere it makes connects skip old notifications)")
	tokenFile := fs.String("admin-token-file", "", "read the admin token from this `file`")
	shard := fs.String("shard", "1/1", "`i/n`: connect the i-th of n slices of the users, to spread connections over n processes")
	fs.IntVar(&c.sources, "sources", 8, "loopback source `addresses` 127.0.0.1.. to spread client sockets over")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 100, "WebSocket handshakes in flight while connecting")
	fs.IntVar(&c.stormConcurrency, "storm-concurrency", 1000, "handshakes in flight in the reconnect storm")
	fs.IntVar(&c.inflight, "inflight", 256, "REST requests in flight at most")
	fs.Int64Var(&c.postID, "post", 0, "thread-read: the `id` of the long thread (seed --thread-comments prints it)")
	fs.StringVar(&c.query, "query", "", "thread-read: extra query, e.g. sort=top&limit=100")
	fs.IntVar(&c.likeEvery, "like-every", 0, "thread-read: every `n`th reader first likes a comment of the page, then reads it (0: nobody likes)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long to wait for outstanding deliveries, and for each request")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "pause after connecting, before reading resident memory and measuring")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "progress line interval on stderr; 0: none")
	writerURL := fs.String("writer-url", "", "resubscribe: the `URL` of the instance that sends while the server at --url is cut off from Redis")
	fs.StringVar(&c.brokerProxy, "broker-proxy", "", "resubscribe: `LISTEN=UPSTREAM`, a proxy to Redis for the server at --url, which the scenario cuts")
	fs.StringVar(&c.dsn, "dsn", "", "db-ceiling, db-push, snapshot: the server's MySQL `DSN` (database.dsn), on the loopback")
	fs.IntVar(&c.watchers, "watchers", 10000, "fanout: connected `users` who watch the post commented on")
	fs.IntVar(&c.subscribers, "subscribers", 1000, "thread-live: connections that follow the post commented on")
	fs.BoolVar(&c.gorillaReaders, "gorilla-readers", false, "thread-live: read the subscribers through gorilla, a goroutine each, not from one epoll loop per P (Linux)")
	fs.IntVar(&c.commenters, "commenters", 20, "thread-live: `users` who take turns commenting")
	fs.IntVar(&c.workers, "workers", 8, "db-ceiling: `goroutines` running the statements, each with its own database connection; snapshot: writers, and as many readers")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write loadgen's own CPU profile to this `file`")
	fs.DurationVar(&c.maxRun, "max-run", 15*time.Minute, "stop the whole run after this long, whatever happens")
	startAt := fs.String("start-at", "", "push, thread-live: begin sending at this `time` (RFC 3339), once connected and settled, so that two loadgen processes send in the same window")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *startAt != "" {
		t, err := time.Parse(time.RFC3339, *startAt)
		if err != nil {
			return nil, fmt.Errorf("--start-at: %w", err)
		}
		c.startAt = t
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if scenario(c.scenario) == nil {
		return nil, fmt.Errorf("--scenario must be one of %s", strings.Join(names, ", "))
	}
	if c.usersFile == "" {
		return nil, errors.New("--users is required: the output of `discuss seed`")
	}
	var err error
	if c.base, err = loopbackURL(*rawURL); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	c.metricsBase = c.base
	if *rawMetricsURL != "" {
		if c.metricsBase, err = loopbackURL(*rawMetricsURL); err != nil {
			return nil, fmt.Errorf("--metrics-url: %w", err)
		}
	}
	if *writerURL != "" {
		if c.writerURL, err = loopbackURL(*writerURL); err != nil {
			return nil, fmt.Errorf("--writer-url: %w", err)
		}
	}
	if c.shard, c.shards, err = parseShard(*shard); err != nil {
		return nil, err
	}
	if *tokenFile != "" {
		data, err := os.ReadFile(*tokenFile)
		if err != nil {
			return nil, err
		}
		c.adminToken = strings.TrimSpace(string(data))
	}
	switch {
	case c.sources < 1 || c.sources > 254:
		return nil, errors.New("--sources must be 1 to 254")
	case c.conns < 0, c.rate < 0, c.count < 0, c.duration <= 0, c.inflight < 1, c.dialConcurrency < 1, c.stormConcurrency < 1:
		return nil, errors.New("--conns, --rate and --count cannot be negative; --duration, --inflight and the concurrencies must be positive")
	case (c.scenario == "push" || c.scenario == "broadcast" || c.scenario == "resubscribe") && c.adminToken == "":
		return nil, fmt.Errorf("--scenario %s needs --admin-token", c.scenario)
	case c.scenario == "thread-read" && c.postID <= 0:
		return nil, errors.New("--scenario thread-read needs --post")
	case (c.scenario == "db-ceiling" || c.scenario == "db-push" || c.scenario == "snapshot") && (c.dsn == "" || c.workers < 1):
		return nil, fmt.Errorf("--scenario %s needs --dsn and a positive --workers", c.scenario)
	case c.scenario == "fanout" && (c.watchers < 1 || c.shards > 1):
		return nil, errors.New("--scenario fanout needs a positive --watchers and runs in one process (--shard 1/1)")
	case c.scenario == "thread-live" && (c.subscribers < 1 || c.commenters < 1 || c.shards > 1 || c.adminToken == ""):
		return nil, errors.New("--scenario thread-live needs a positive --subscribers and --commenters, --admin-token, and runs in one process (--shard 1/1)")
	case c.scenario == "resubscribe" && (c.writerURL == nil || c.brokerProxy == ""):
		return nil, errors.New("--scenario resubscribe needs --writer-url and --broker-proxy")
	}
	return &c, nil
}

// loopbackURL parses the server URL and refuses anything but an IPv4
// loopback address: this tool loads only a server on this machine, and
// its client sockets bind to 127.0.0.x source addresses.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q: only IPv4 loopback addresses (127.0.0.0/8) may be loaded", raw)
	}
	u.Path, u.RawQuery = "", ""
	return u, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bare" {
		if err := serveBare(ctx, args[1:], stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stderr, "loadgen bare:", err)
			}
			return 2
		}
		return 0
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "loadgen:", err)
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.maxRun)
	defer cancel()
	r, err := newRunner(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	defer r.close()
	if cfg.cpuProfile != "" {
		// The load generator shares the machine with the server: where
		// its own time goes says how much of a run it takes.
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := scenario(cfg.scenario)(r, ctx); err != nil {
		r.rep.fail("%v", err)
	}
	r.finish()
	r.rep.print(stdout)
	if !r.rep.ok() {
		return 1
	}
	return 0
}
