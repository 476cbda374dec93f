package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisConfig configures a RedisBroker; cmd copies configs.Broker into it.
type RedisConfig struct {
	Addr     string
	Password string
	DB       int
	// Channel is the pub/sub channel every instance shares; it also
	// prefixes the presence keys. Default "discuss".
	Channel string
	// HealthInterval is how long the subscription may stay silent before
	// it is pinged; a ping unanswered for as long again counts as a lost
	// connection. Default 5s.
	HealthInterval time.Duration
	// MaxBackoff caps the wait between attempts to re-subscribe. Default 5s.
	MaxBackoff time.Duration
}

// RedisBroker carries messages between instances over Redis pub/sub. The
// subscription is re-established by itself after any failure, and every
// re-establishment is reported to the hub, which then replays from the
// Store what its connections missed.
type RedisBroker struct {
	client         *redis.Client
	channel        string
	presenceKey    string
	log            *slog.Logger
	healthInterval time.Duration
	maxBackoff     time.Duration
}

var _ Broker = (*RedisBroker)(nil)

// NewRedisBroker returns a broker on the Redis at cfg.Addr. It does not
// connect yet: Publish and Subscribe do, and keep trying while Redis is
// away. Close it after the hub has stopped.
func NewRedisBroker(cfg RedisConfig, logger *slog.Logger) (*RedisBroker, error) {
	if cfg.Addr == "" {
		return nil, errors.New("notify: redis broker needs an address")
	}
	if cfg.Channel == "" {
		cfg.Channel = "discuss"
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := redis.NewClient(&redis.Options{
		Addr:     cfg.Addr,
		Password: cfg.Password,
		DB:       cfg.DB,
		// Short timeouts and no retries: publishing runs on the request
		// path, and a message that does not get through is recovered from
		// the database anyway.
		DialTimeout:           time.Second,
		DialerRetries:         1,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		// Maintenance notifications are for Redis Enterprise and cloud
		// upgrades; on plain Redis their probe only adds noise.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	return &RedisBroker{
		client:         client,
		channel:        cfg.Channel,
		presenceKey:    cfg.Channel + ":presence",
		log:            logger,
		healthInterval: cfg.HealthInterval,
		maxBackoff:     cfg.MaxBackoff,
	}, nil
}

// Close closes the Redis connections.
func (b *RedisBroker) Close() error { return b.client.Close() }

// Publish publishes msg on the channel.
func (b *RedisBroker) Publish(ctx context.Context, msg []byte) error {
	if err := b.client.Publish(ctx, b.channel, msg).Err(); err != nil {
		return fmt.Errorf("notify: redis publish: %w", err)
	}
	return nil
}

// Subscribe keeps a subscription to the channel until ctx ends. Rather than
// lean on go-redis's silent reconnection, each failure closes the PubSub
// and a new one is made after a backoff, so that every loss is seen and
// every re-subscription reported through subscribed. Redis being away is
// waited out; Redis refusing the settings (see refusedForGood) is not,
// and Subscribe returns that error.
func (b *RedisBroker) Subscribe(ctx context.Context, deliver func([]byte), subscribed func()) error {
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	for ctx.Err() == nil {
		ok, err := b.subscribeOnce(ctx, deliver, subscribed)
		if ctx.Err() != nil {
			break
		}
		if refusedForGood(err) {
			return fmt.Errorf("notify: redis refused the subscription: %w", err)
		}
		if ok {
			backoff = minBackoff // It worked for a while; retry at once-ish.
		}
		b.log.Warn("notify: redis subscription lost; re-subscribing", "err", err, "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, b.maxBackoff)
	}
	return nil
}

// refusedForGood reports whether err is Redis refusing the connection's
// settings, which retrying cannot change: the password (NOAUTH,
// WRONGPASS), the rights on the channel (NOPERM) or the database number.
// An instance that cannot subscribe delivers nothing from the others, so
// it had better stop than look healthy.
func refusedForGood(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	return redis.IsAuthError(err) || redis.IsPermissionError(err) ||
		strings.HasPrefix(reply.Error(), "ERR DB index is out of range")
}

// subscribeOnce runs one PubSub until it fails or ctx ends; ok reports
// whether the subscription was established at all.
func (b *RedisBroker) subscribeOnce(ctx context.Context, deliver func([]byte), subscribed func()) (ok bool, err error) {
	ps := b.client.Subscribe(ctx, b.channel)
	// Receive does not watch ctx, so closing the PubSub is what ends a wait.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.healthInterval)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Silence may be a dead peer that sent no FIN: ping, and
				// count a second silent interval as a failure.
				if err := ps.Ping(ctx); err != nil {
					return ok, err
				}
				pinged = true
				continue
			}
			return ok, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				ok = true
				subscribed()
			}
		case *redis.Message:
			deliver([]byte(m.Payload))
		case *redis.Pong:
		}
	}
}

// The presence of each instance lives in two places: a hash field
// "<connections> <expiry in Unix ms>" under <channel>:presence, and a set of
// its user ids under <channel>:presence:<instance> expiring with it, so that
// Online can count distinct users over instances with SUNIONSTORE.

func (b *RedisBroker) usersKey(instance string) string { return b.presenceKey + ":" + instance }

// ReportPresence writes p for ttl.
func (b *RedisBroker) ReportPresence(ctx context.Context, p Presence, ttl time.Duration) error {
	usersKey := b.usersKey(p.Instance)
	_, err := b.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, usersKey)
		if p.Connections == 0 {
			pipe.HDel(ctx, b.presenceKey, p.Instance)
			return nil
		}
		const chunk = 1000
		for i := 0; i < len(p.Users); i += chunk {
			part := p.Users[i:min(i+chunk, len(p.Users))]
			members := make([]any, len(part))
			for j, id := range part {
				members[j] = id
			}
			pipe.SAdd(ctx, usersKey, members...)
		}
		pipe.PExpire(ctx, usersKey, ttl)
		expires := time.Now().Add(ttl).UnixMilli()
		pipe.HSet(ctx, b.presenceKey, p.Instance, fmt.Sprintf("%d %d", p.Connections, expires))
		// The hash outlives any one instance (expired fields are removed
		// by Online) but not a whole deployment gone for a day. A shorter
		// expiry, say from a report with a short ttl, would drop the
		// fields of every other instance with it.
		pipe.Expire(ctx, b.presenceKey, 24*time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: redis presence: %w", err)
	}
	return nil
}

// Online sums the unexpired reports and removes the expired ones.
func (b *RedisBroker) Online(ctx context.Context) (users, connections int, err error) {
	fields, err := b.client.HGetAll(ctx, b.presenceKey).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("notify: redis online: %w", err)
	}
	now := time.Now().UnixMilli()
	var keys []string
	var stale []string
	for instance, v := range fields {
		connsText, expiresText, _ := strings.Cut(v, " ")
		conns, err1 := strconv.Atoi(connsText)
		expires, err2 := strconv.ParseInt(expiresText, 10, 64)
		if err1 != nil || err2 != nil || expires < now {
			stale = append(stale, instance)
			continue
		}
		connections += conns
		keys = append(keys, b.usersKey(instance))
	}
	if len(stale) > 0 {
		// Best effort: another caller may be removing them too.
		_ = b.client.HDel(ctx, b.presenceKey, stale...).Err()
	}
	if len(keys) == 0 {
		return 0, connections, nil
	}
	tmp := b.presenceKey + ":union:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var union *redis.IntCmd
	_, err = b.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		union = pipe.SUnionStore(ctx, tmp, keys...)
		pipe.Del(ctx, tmp)
		return nil
	})
	if err != nil {
		return 0, connections, fmt.Errorf("notify: redis online: %w", err)
	}
	return int(union.Val()), connections, nil
}
