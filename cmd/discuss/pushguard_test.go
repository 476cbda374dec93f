package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// TestWebPushRefusesPrivateAddresses: a subscription's endpoint is any
// https URL a client names, and the server POSTs to it; without
// push.allow_insecure_endpoints (for tests) it connects to no loopback,
// private or link-local address, so a user cannot point the server at
// the services of its own network (and learn from the subscription being
// dropped on a 404 or 410 what answers there). The push is logged as not
// delivered and the address never sees a connection.
func TestWebPushRefusesPrivateAddresses(t *testing.T) {
	var conns atomic.Int64
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	internal.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	internal.StartTLS()
	t.Cleanup(internal.Close)

	env := databaseEnv(t)
	env["DISCUSS_PUSH_SUBJECT"] = "mailto:ops@quiz.example.com"
	s := startServe(t, env)
	victim, _ := registerUser(t, s, "victim")
	bob, _ := registerUser(t, s, "bob")
	keys := deliverytest.StartPushService(t).NewBrowser(t)
	body := map[string]any{"endpoint": internal.URL + "/admin/purge", "keys": map[string]string{"p256dh": keys.P256DH, "auth": keys.Auth}}
	if code := s.call(t, "POST", "/api/v1/push/subscriptions", victim, body, nil); code != 201 {
		t.Fatalf("subscribe: %d", code)
	}
	s.comment(t, bob, s.createPost(t, victim, "victim's", "b"), "pushed")
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(s.stderr.String(), "offline: push not delivered") {
			return errors.New("the push is not settled")
		}
		return nil
	})
	if n := conns.Load(); n != 0 {
		t.Fatalf("the push connected to %s, a loopback address, %d times", internal.URL, n)
	}
}
