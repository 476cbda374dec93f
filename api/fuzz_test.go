package api

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery"
)

// FuzzRequestBodies sends arbitrary bodies to every route that decodes
// JSON. Whatever arrives, the answer is a success or a client error in the
// contract's shape: never a 5xx, never a panic (which the recovery
// middleware would turn into a 500).
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `[]`, `""`, `0`, `{"title":"t","body":"b"}`, `{"title":"t","body":"b","problem_id":-1}`,
		`{"body":"hi @alice","parent_id":1}`, `{"ids":[1,2,3]}`, `{"up_to_id":9223372036854775807}`,
		`{"ids":[-1]}`, `{"user_id":1,"message":"m"}`, `{"role":"admin"}`, `{"username":"x","password":"y"}`,
		"{\"body\":\"\xff\"}", `{"title":1e400}`, `{"title":"` + "\u0000" + `"}`, `{"body":"<script>alert(1)</script>"}`,
		`{"title":"'; DROP TABLE posts; --","body":"b"}`, `{"parent_id":"1"}`, `{"ids":null,"up_to_id":null}`,
		`{"email":"a@example.com","email_delivery":"daily","push_enabled":false,"types":{"like":false}}`,
		`{"types":{"":true}}`, `{"token":"dmVyaWZ5LjEuMC5hYmM.c2ln"}`,
		`{"endpoint":"https://push.example.com/1","keys":{"p256dh":"BAAA","auth":"AAAA"}}`,
		`{"reason":"spam","note":"n"}`, `{"reason":"off_topic","note":null}`, `{"action":"dismiss"}`, `{"spoiler":"yes"}`,
	} {
		f.Add([]byte(seed))
	}
	// One server and one fixture per fuzzing process: no route fuzzed here
	// deletes anything (but the resolution of a report of a post kept for
	// it), so every input can aim at the same post and comment, and the
	// time goes into inputs rather than set-up.
	// With Web Push on, so that subscriptions reach their validation; mail
	// stays off (a verification message would need a server).
	private, public, err := delivery.GenerateVAPIDKeys()
	if err != nil {
		f.Fatal(err)
	}
	ts := newServer(f, setup{offline: func(oc *service.OfflineConfig) {
		oc.Pusher, oc.VAPIDPublicKey = delivery.NewWebPush(private, public, "mailto:ops@example.com", nil), public
	}})
	fx := newFuzzFixture(f, ts)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range fx.routes {
			res := ts.do(t, r.method, r.path, r.token, body)
			if res.Status >= 500 {
				t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, res.Status, res.Body)
			}
			if res.Status >= 400 {
				var e ErrorBody
				if err := json.Unmarshal(res.Body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("%s %s with %q: error body %s not in the contract's shape", r.method, r.path, body, res.Body)
				}
			}
		}
	})
}

type fuzzRoute struct {
	method, path, token string
}

type fuzzFixture struct {
	routes []fuzzRoute
}

func newFuzzFixture(t testing.TB, ts *testServer) *fuzzFixture {
	t.Helper()
	admin := ts.withRole(t, "admin_"+randomName(), model.RoleAdmin)
	var post, comment struct {
		ID int64 `json:"id"`
	}
	if res := ts.do(t, "POST", "/api/v1/posts", admin.Token, map[string]string{"title": "t", "body": "b"}); res.Status != 201 {
		t.Fatalf("post: %d %s", res.Status, res.Body)
	} else {
		res.JSON(t, &post)
	}
	if res := ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), admin.Token, map[string]string{"body": "c"}); res.Status != 201 {
		t.Fatalf("comment: %d %s", res.Status, res.Body)
	} else {
		res.JSON(t, &comment)
	}
	// A report of another post opens the queue item that resolutions aim
	// at; the reports fuzzed are another user's, of the admin's post and
	// comment (the first of each is recorded, the rest are conflicts).
	reporter := ts.register(t, "reporter_"+randomName())
	var reported struct {
		ID int64 `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/posts", admin.Token, map[string]string{"title": "t", "body": "reported"}).JSON(t, &reported)
	if res := ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/report", reported.ID), reporter.Token, map[string]string{"reason": "spam"}); res.Status != 201 {
		t.Fatalf("report: %d %s", res.Status, res.Body)
	}
	var caseID int64
	if err := ts.DB.Raw("SELECT case_id FROM reports WHERE target_id = ? AND target_type = ?", reported.ID, model.TargetPost).Scan(&caseID).Error; err != nil {
		t.Fatal(err)
	}
	tok := admin.Token
	return &fuzzFixture{routes: []fuzzRoute{
		{"POST", fmt.Sprintf("/api/v1/posts/%d/report", post.ID), reporter.Token},
		{"POST", fmt.Sprintf("/api/v1/comments/%d/report", comment.ID), reporter.Token},
		{"POST", fmt.Sprintf("/api/v1/mod/reports/%d/resolve", caseID), tok},
		{"POST", "/api/v1/auth/register", ""},
		{"POST", "/api/v1/auth/login", ""},
		{"POST", "/api/v1/posts", tok},
		{"PATCH", fmt.Sprintf("/api/v1/posts/%d", post.ID), tok},
		{"POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), tok},
		{"PATCH", fmt.Sprintf("/api/v1/comments/%d", comment.ID), tok},
		{"POST", "/api/v1/notifications/read", tok},
		{"POST", "/api/v1/admin/notify", tok},
		{"POST", "/api/v1/admin/broadcast", tok},
		{"PATCH", fmt.Sprintf("/api/v1/admin/users/%d", admin.User.ID), tok},
		{"PATCH", "/api/v1/me/preferences", tok},
		{"POST", "/api/v1/email/verify", ""},
		{"POST", "/api/v1/push/subscriptions", tok},
		{"DELETE", "/api/v1/push/subscriptions", tok},
	}}
}

func randomName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
