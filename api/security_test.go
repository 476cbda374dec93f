package api

import (
	"fmt"
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

// TestPermissionMatrix runs every mutating route of posts and comments,
// and every route of moderation, as the author, another user, a
// moderator, an admin and nobody; those on content on live and on deleted
// content, each on fresh content so that no case depends on another.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	author := ts.register(t, "author")
	reporter := ts.register(t, "reporter")
	blocked := ts.register(t, "blocked")
	sessions := map[string]session{
		"author":    author,
		"other":     ts.register(t, "other"),
		"moderator": ts.withRole(t, "moderator", model.RoleModerator),
		"admin":     ts.withRole(t, "admin", model.RoleAdmin),
		"anonymous": {},
	}
	type want struct{ author, other, moderator, admin int }
	everyone := func(status int) want { return want{status, status, status, status} }
	// What a route's %d names: the post, the comment, a report case of the
	// post (reported by another user), a user to block, or nothing.
	const (
		onPost = iota
		onComment
		onReport
		onUser
		onNothing
	)
	routes := []struct {
		method, path string // path has %d for what on names
		on           int
		body         any
		want         want
	}{
		{"PATCH", "/api/v1/posts/%d", onPost, map[string]any{"title": "new"}, want{200, 403, 200, 200}},
		{"DELETE", "/api/v1/posts/%d", onPost, nil, want{204, 403, 204, 204}},
		{"PUT", "/api/v1/posts/%d/like", onPost, nil, everyone(200)},
		{"DELETE", "/api/v1/posts/%d/like", onPost, nil, everyone(200)},
		{"PUT", "/api/v1/posts/%d/mute", onPost, nil, everyone(204)},
		{"DELETE", "/api/v1/posts/%d/mute", onPost, nil, everyone(204)},
		{"GET", "/api/v1/posts/%d/subscription", onPost, nil, everyone(200)},
		{"PUT", "/api/v1/posts/%d/subscription", onPost, map[string]any{"level": "watching"}, everyone(200)},
		{"DELETE", "/api/v1/posts/%d/subscription", onPost, nil, everyone(200)},
		{"POST", "/api/v1/posts/%d/comments", onPost, map[string]any{"body": "hi"}, everyone(201)},
		{"POST", "/api/v1/posts/%d/report", onPost, map[string]any{"reason": "spam"}, want{403, 201, 201, 201}},
		{"PATCH", "/api/v1/comments/%d", onComment, map[string]any{"body": "new"}, want{200, 403, 403, 403}},
		{"DELETE", "/api/v1/comments/%d", onComment, nil, want{204, 403, 204, 204}},
		{"PUT", "/api/v1/comments/%d/like", onComment, nil, everyone(200)},
		{"DELETE", "/api/v1/comments/%d/like", onComment, nil, everyone(200)},
		{"POST", "/api/v1/comments/%d/report", onComment, map[string]any{"reason": "spoiler"}, want{403, 201, 201, 201}},
		{"GET", "/api/v1/mod/reports", onNothing, nil, want{403, 403, 200, 200}},
		{"POST", "/api/v1/mod/reports/%d/resolve", onReport, map[string]any{"action": "dismiss"}, want{403, 403, 200, 200}},
		{"GET", "/api/v1/admin/moderation-log", onNothing, nil, want{403, 403, 403, 200}},
		{"PUT", "/api/v1/users/%d/block", onUser, nil, everyone(204)},
		{"DELETE", "/api/v1/users/%d/block", onUser, nil, everyone(204)},
		{"GET", "/api/v1/me/blocks", onNothing, nil, everyone(200)},
	}
	for _, r := range routes {
		for _, role := range []string{"author", "other", "moderator", "admin", "anonymous"} {
			for _, deleted := range []bool{false, true} {
				if deleted && r.on != onPost && r.on != onComment {
					continue
				}
				name := fmt.Sprintf("%s %s/%s", r.method, strings.ReplaceAll(r.path, "%d", "{id}"), role)
				if deleted {
					name += "/deleted"
				}
				t.Run(name, func(t *testing.T) {
					p := ts.createPost(t, author.Token, "p")
					c := ts.createComment(t, author.Token, p.ID, nil)
					var id int64
					switch r.on {
					case onPost:
						id = p.ID
					case onComment:
						id = c.ID
					case onReport:
						res := ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/report", p.ID), reporter.Token, map[string]any{"reason": "spam"})
						if res.Status != 201 {
							t.Fatalf("report: %d %s", res.Status, res.Body)
						}
						if err := ts.DB.Raw("SELECT case_id FROM reports WHERE target_id = ? AND target_type = ?", p.ID, model.TargetPost).Scan(&id).Error; err != nil {
							t.Fatal(err)
						}
					case onUser:
						id = blocked.User.ID
					}
					if deleted {
						target := fmt.Sprintf("/api/v1/posts/%d", p.ID)
						if r.on == onComment {
							target = fmt.Sprintf("/api/v1/comments/%d", c.ID)
						}
						if res := ts.do(t, "DELETE", target, author.Token, nil); res.Status != 204 {
							t.Fatalf("delete: %d %s", res.Status, res.Body)
						}
					}
					status := map[string]int{"author": r.want.author, "other": r.want.other, "moderator": r.want.moderator, "admin": r.want.admin}[role]
					switch {
					case role == "anonymous":
						status = 401
					case deleted:
						status = 404
					}
					path := r.path
					if r.on != onNothing {
						path = fmt.Sprintf(r.path, id)
					}
					res := ts.doChecked(t, r.method, path, sessions[role].Token, r.body)
					if res.Status != status {
						t.Errorf("%d %s, want %d", res.Status, res.Body, status)
					}
				})
			}
		}
	}
}
