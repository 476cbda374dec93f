package api

import (
	"net/http"
	"testing"
)

func TestRegisterLoginMe(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	if alice.Token == "" || alice.User.ID == 0 || alice.User.Role != "user" || alice.User.DisplayName != "alice" {
		t.Fatalf("register answered %+v", alice)
	}
	res := ts.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "password123"})
	if res.Status != http.StatusOK {
		t.Fatalf("login: %d %s", res.Status, res.Body)
	}
	var s session
	res.JSON(t, &s)
	me := ts.do(t, "GET", "/api/v1/me", s.Token, nil)
	if me.Status != http.StatusOK {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	var u map[string]any
	me.JSON(t, &u)
	for _, k := range []string{"id", "username", "display_name", "role", "created_at"} {
		if _, ok := u[k]; !ok {
			t.Errorf("me lacks %s: %s", k, me.Body)
		}
	}
}
