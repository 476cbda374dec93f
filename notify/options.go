package notify

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"time"
)

// Options tunes a Hub. Zero fields take the defaults named on each; cmd
// copies configs.WebSocket into it (notify does not import configs).
type Options struct {
	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages
	// may open a connection. Requests without an Origin header pass.
	AllowedOrigins []string
	// PingInterval is how often the server sends a WebSocket ping. Default 25s.
	PingInterval time.Duration
	// PongTimeout drops a connection from which nothing (pong or frame)
	// arrived for this long. Default 60s.
	PongTimeout time.Duration
	// WriteTimeout bounds each write to a client. Default 10s.
	WriteTimeout time.Duration
	// MaxConnectionsPerUser is the number of connections one user may hold;
	// a new one past it closes the oldest with code 4000. Default 8.
	MaxConnectionsPerUser int
	// SendQueueSize is the number of frames queued for one connection; a
	// connection whose queue is full is closed with code 1013. Default 64.
	SendQueueSize int
	// MaxMessageBytes is the largest client frame; a larger one closes the
	// connection with code 1009. Default 4096.
	MaxMessageBytes int64
	// ReplayLimit is the most notifications replayed after since; past it
	// the client is sent a resync frame. Default 500.
	ReplayLimit int
	// UnreadReplayLimit is the most unread notifications replayed to a
	// connection without since. Default 100.
	UnreadReplayLimit int
	// MaxConnectionsPerAddress is the number of connections one client
	// address (IPv6: one /64) may hold, whatever its users; see
	// ReserveAddress. Zero means no cap.
	MaxConnectionsPerAddress int
	// ExemptAddresses are the client addresses MaxConnectionsPerAddress
	// does not apply to.
	ExemptAddresses []netip.Prefix
	// ReadFrameBurst read and subscribe_post frames of one user's
	// connections are acted on at once, then one every ReadFrameInterval;
	// faster ones wait their turn (see readPacer). Defaults 5 and 100ms.
	ReadFrameBurst    int
	ReadFrameInterval time.Duration
	// OnUserChanged, when set, is called with the id of a user whose row
	// some instance changed (PublishUserChanged), and OnResubscribed when
	// the broker subscription comes back after a loss, as such changes may
	// have been missed meanwhile; cmd has them drop cached users.
	OnUserChanged  func(userID int64)
	OnResubscribed func()

	// CloseGrace is how long the server waits for the client to answer its
	// close frame before it drops the TCP connection. Default 2s.
	CloseGrace time.Duration
	// StoreTimeout bounds each Store call made for a connection. Default 5s.
	StoreTimeout time.Duration
	// StoreConcurrency is how many Store calls the hub makes at once for
	// its connections; the others wait their turn. It keeps a reconnect
	// storm or a broker resubscribe with thousands of connections from
	// queueing more reads than the database pool can serve within
	// StoreTimeout. Default 16.
	StoreConcurrency int
	// PublishTimeout bounds each Publish to the broker, so that a broker
	// outage costs a request at most this much. Default 1s.
	PublishTimeout time.Duration
	// PresenceInterval is how often this instance reports its connection
	// counts to the broker for Online. Default 5s.
	PresenceInterval time.Duration
	// InstanceID names this instance in presence reports. Default: random.
	InstanceID string
	// Presence, when set, is told which users have a connection open on
	// this instance, as they come and go and again every
	// PresenceRecordInterval, so that mail and Web Push reach only users
	// with none anywhere.
	Presence PresenceRecorder
	// PresenceRecordInterval is how often every connected user is recorded
	// again. Default 30s.
	PresenceRecordInterval time.Duration
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setInt := func(n *int, def int) {
		if *n <= 0 {
			*n = def
		}
	}
	setDur(&o.PingInterval, 25*time.Second)
	setDur(&o.PongTimeout, 60*time.Second)
	setDur(&o.WriteTimeout, 10*time.Second)
	setDur(&o.CloseGrace, 2*time.Second)
	setDur(&o.StoreTimeout, 5*time.Second)
	setDur(&o.PublishTimeout, time.Second)
	setDur(&o.PresenceInterval, 5*time.Second)
	setDur(&o.PresenceRecordInterval, 30*time.Second)
	setDur(&o.ReadFrameInterval, 100*time.Millisecond)
	setInt(&o.MaxConnectionsPerUser, 8)
	setInt(&o.SendQueueSize, 64)
	setInt(&o.ReplayLimit, 500)
	setInt(&o.UnreadReplayLimit, 100)
	setInt(&o.StoreConcurrency, 16)
	setInt(&o.ReadFrameBurst, 5)
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 4096
	}
	if o.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
		o.InstanceID = hex.EncodeToString(b[:])
	}
	return o
}
