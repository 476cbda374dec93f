package service

import (
	"strconv"
	"sync"
	"time"

	"github.com/quizsite/discuss/model"
)

// RateLimiter allows each key a burst of up to limit events and then one
// event every period/limit, using the generic cell rate algorithm: for each
// key it keeps only the theoretical arrival time of the next event. Limits
// are per instance; behind a load balancer each instance enforces its own.
type RateLimiter struct {
	interval time.Duration // time between events at the sustained rate
	burst    time.Duration // interval * limit: how far ahead a key may run
	now      func() time.Time

	mu    sync.Mutex
	tat   map[string]time.Time
	calls int
}

// NewRateLimiter returns a limiter of limit events per period for each key.
func NewRateLimiter(limit int, period time.Duration) *RateLimiter {
	interval := period / time.Duration(limit)
	return &RateLimiter{
		interval: interval,
		burst:    interval * time.Duration(limit),
		now:      time.Now,
		tat:      make(map[string]time.Time),
	}
}

// sweepEvery is how many calls pass between removals of idle keys, so that
// the map holds only keys seen within the last period.
const sweepEvery = 1024

// Allow records one event for key. When the key is over its limit it records
// nothing and returns an ERATELIMITED error saying when to retry.
func (l *RateLimiter) Allow(key string) error { return l.take(key, true) }

// Check returns the error Allow would return now, without recording an
// event.
func (l *RateLimiter) Check(key string) error { return l.take(key, false) }

func (l *RateLimiter) take(key string, record bool) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%sweepEvery == 0 {
		for k, t := range l.tat {
			if t.Before(now) {
				delete(l.tat, k)
			}
		}
	}
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(l.interval)
	if allowAt := next.Add(-l.burst); now.Before(allowAt) {
		wait := allowAt.Sub(now)
		return &model.Error{
			Code:       model.ERATELIMITED,
			Message:    "too many requests; retry in " + wait.Round(time.Second).String(),
			RetryAfter: wait,
		}
	}
	if record {
		l.tat[key] = next
	}
	return nil
}

// allow is l.Allow for limiters that may be nil, which means unlimited.
func allow(l *RateLimiter, key string) error {
	if l == nil {
		return nil
	}
	return l.Allow(key)
}

// allowUser is allow for an action of the signed-in user userID: the
// limiters of such actions (posts, comments, reports, verification mail)
// key each user's budget by id. Logins, before anyone is signed in, key by
// name (Auth.Login).
func allowUser(l *RateLimiter, userID int64) error {
	return allow(l, "user:"+strconv.FormatInt(userID, 10))
}

// check is l.Check for limiters that may be nil, which means unlimited.
func check(l *RateLimiter, key string) error {
	if l == nil {
		return nil
	}
	return l.Check(key)
}
