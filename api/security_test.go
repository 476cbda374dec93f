package api

import (
	"strings"
	"testing"

	"github.com/quizsite/discuss/model"
)

// concretePath fills a Gin route pattern's parameters with an id.
func concretePath(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "1"
		}
	}
	return strings.Join(parts, "/")
}

// TestEveryRouteNeedsToken walks the router itself, so a route added later
// is covered without editing this test: every /api/v1 route but register
// and login answers 401 in the contract's shape without a token, and with
// a forged one. The links of the mail, whose token is their authority,
// and the push key, which every browser is given, need none.
func TestEveryRouteNeedsToken(t *testing.T) {
	ts := newTestServer(t)
	public := map[string]bool{"POST /api/v1/auth/register": true, "POST /api/v1/auth/login": true,
		"POST /api/v1/email/verify": true, "GET /api/v1/email/unsubscribe": true, "POST /api/v1/email/unsubscribe": true,
		"GET /api/v1/push/key": true}
	alice := ts.register(t, "alice")
	forged := alice.Token[:len(alice.Token)-3] + "abc"
	n := 0
	for _, r := range ts.Srv.public.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || public[r.Method+" "+r.Path] {
			continue
		}
		n++
		for _, token := range []string{"", forged} {
			res := ts.do(t, r.Method, concretePath(r.Path), token, `{}`)
			if res.Status != 401 || res.ErrorCode(t) != model.EUNAUTHENTICATED {
				t.Errorf("%s %s with token %v: %d %s", r.Method, r.Path, token != "", res.Status, res.Body)
			}
		}
	}
	if n < 25 {
		t.Fatalf("only %d protected routes found", n)
	}
}

// TestAdminRoutesNeedAdmin: users and moderators get 403 on every admin
// route, and admins do not.
func TestAdminRoutesNeedAdmin(t *testing.T) {
	ts := newTestServer(t)
	users := map[string]session{
		model.RoleUser:      ts.register(t, "plain_user"),
		model.RoleModerator: ts.withRole(t, "the_moderator", model.RoleModerator),
	}
	admin := ts.withRole(t, "the_admin", model.RoleAdmin)
	n := 0
	for _, r := range ts.Srv.public.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/admin/") {
			continue
		}
		n++
		for role, s := range users {
			res := ts.do(t, r.Method, concretePath(r.Path), s.Token, `{}`)
			if res.Status != 403 || res.ErrorCode(t) != model.EPERMISSION {
				t.Errorf("%s %s as %s: %d %s", r.Method, r.Path, role, res.Status, res.Body)
			}
		}
		if res := ts.do(t, r.Method, concretePath(r.Path), admin.Token, `{}`); res.Status == 403 || res.Status == 401 {
			t.Errorf("%s %s as admin: %d %s", r.Method, r.Path, res.Status, res.Body)
		}
	}
	if n != 5 {
		t.Fatalf("%d admin routes, want 5", n)
	}
}
