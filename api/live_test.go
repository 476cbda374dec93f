package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

// frame is any server frame, with the fields these tests read.
type frame struct {
	Type              string          `json:"type"`
	UserID            int64           `json:"user_id"`
	UnreadCount       int64           `json:"unread_count"`
	UnseenCount       *int64          `json:"unseen_count"`
	Message           string          `json:"message"`
	Replayed          bool            `json:"replayed"`
	Notification      json.RawMessage `json:"notification"`
	OnlineConnections int             `json:"online_connections"`
}

func (ts *testServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws" + query
}

// dialWS opens a socket and returns it after its hello frame.
func (ts *testServer) dialWS(t *testing.T, query string, header http.Header) *websocket.Conn {
	t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial(ts.wsURL(query), header)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if f := readFrame(t, conn); f.Type != "hello" {
		t.Fatalf("first frame %+v, want hello", f)
	}
	return conn
}

// goneToken is a token of ours for a user that does not exist.
func (ts *testServer) goneToken(t *testing.T) string {
	t.Helper()
	token, _, err := ts.Auth.IssueToken(&model.User{ID: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// dialRefused dials /ws with query and header, which the server must
// refuse before upgrading, and returns its answer.
func (ts *testServer) dialRefused(t *testing.T, query string, header http.Header) response {
	t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial(ts.wsURL(query), header)
	if err == nil {
		conn.Close()
		t.Fatalf("the upgrade of %s succeeded", query)
	}
	if res == nil {
		t.Fatalf("dial %s: no HTTP answer: %v", query, err)
	}
	return readResponse(t, res)
}

func readFrame(t *testing.T, conn *websocket.Conn) frame {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f frame
	if err := conn.ReadJSON(&f); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// refusal is a request for a live connection that the server refuses
// before upgrading, with status and the error code of its JSON body.
type refusal struct {
	name   string
	query  string
	header http.Header
	status int
	code   string
}

// handshakeRefusals are the refusals that the socket and the event stream
// share, for a server that allows only https://quiz.example.com; token is
// a valid one, gone one validly signed for a user that does not exist.
func handshakeRefusals(token, gone string) []refusal {
	return []refusal{
		{"ErrNoToken", "", nil, 401, model.EUNAUTHENTICATED},
		{"ErrUnknownUser", "?token=" + gone, nil, 401, model.EUNAUTHENTICATED},
		{"ErrBadToken", "?token=forged.token.here", nil, 401, model.EUNAUTHENTICATED},
		{"ErrForeignOrigin", "?token=" + token, http.Header{"Origin": {"https://evil.example.com"}}, 403, model.EPERMISSION},
		{"ErrBadSince", "?since=-3&token=" + token, nil, 400, model.EINVALID},
	}
}

func TestWebSocketHandshake(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.AllowedOrigins = []string{"https://quiz.example.com"} })
	alice := ts.register(t, "alice")

	t.Run("OKQueryToken", func(t *testing.T) {
		conn, _, err := websocket.DefaultDialer.Dial(ts.wsURL("?token="+alice.Token), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		f := readFrame(t, conn)
		if f.Type != "hello" || f.UserID != alice.User.ID {
			t.Fatalf("hello %+v", f)
		}
	})
	t.Run("OKHeaderTokenAllowedOrigin", func(t *testing.T) {
		h := http.Header{"Authorization": {"Bearer " + alice.Token}, "Origin": {"https://quiz.example.com"}}
		ts.dialWS(t, "", h)
	})
	for _, tt := range handshakeRefusals(alice.Token, ts.goneToken(t)) {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, ts.dialRefused(t, tt.query, tt.header), tt.status, tt.code, "")
		})
	}
}

// TestRefusedOriginLoggedOnce: each origin refused a socket is logged once
// at WARN, with the allowed ones, however often its page retries.
func TestRefusedOriginLoggedOnce(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.AllowedOrigins = []string{"https://quiz.example.com"} })
	alice := ts.register(t, "alice")
	for _, origin := range []string{"http://localhost:3000", "http://localhost:3000", "https://evil.example.com", "http://localhost:3000"} {
		if res := ts.dialRefused(t, "?token="+alice.Token, http.Header{"Origin": {origin}}); res.Status != http.StatusForbidden {
			t.Fatalf("from %s: %d, want 403", origin, res.Status)
		}
	}
	logs := ts.Logs.String()
	for origin, want := range map[string]int{"http://localhost:3000": 1, "https://evil.example.com": 1} {
		line := `"origin":"` + origin + `","allowed":["https://quiz.example.com"]`
		if got := strings.Count(logs, line); got != want {
			t.Errorf("%s logged %d times with the allowed origins, want %d:\n%s", origin, got, want, logs)
		}
	}
	var r refusedOrigins
	for i := range maxLoggedOrigins {
		if !r.first(fmt.Sprintf("https://o%d.example.com", i)) {
			t.Fatalf("origin %d not logged", i)
		}
	}
	if r.first("https://one-more.example.com") {
		t.Error("an origin past the bound would be logged")
	}
}

func TestBroadcastAndOnline(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.withRole(t, "root_admin", model.RoleAdmin)
	alice := ts.register(t, "alice")
	a1 := ts.dialWS(t, "?token="+alice.Token, nil)
	a2 := ts.dialWS(t, "?token="+alice.Token, nil)

	res := ts.do(t, "GET", "/api/v1/admin/online", admin.Token, nil)
	var online onlineResponse
	res.JSON(t, &online)
	if res.Status != 200 || online.Users != 1 || online.Connections != 2 {
		t.Fatalf("online: %d %s", res.Status, res.Body)
	}

	res = ts.do(t, "POST", "/api/v1/admin/broadcast", admin.Token, map[string]string{"message": "  Maintenance at 22:00 UTC  "})
	var b broadcastResponse
	res.JSON(t, &b)
	if res.Status != http.StatusAccepted || b.OnlineConnections != 2 {
		t.Fatalf("broadcast: %d %s", res.Status, res.Body)
	}
	for _, conn := range []*websocket.Conn{a1, a2} {
		if f := readFrame(t, conn); f.Type != "broadcast" || f.Message != "Maintenance at 22:00 UTC" {
			t.Fatalf("frame %+v, want the broadcast", f)
		}
	}

	res = ts.do(t, "GET", "/api/v1/announcements", alice.Token, nil)
	var list struct {
		Items []struct {
			ID        int64     `json:"id"`
			Message   string    `json:"message"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	res.JSON(t, &list)
	if res.Status != 200 || len(list.Items) != 1 || list.Items[0].Message != "Maintenance at 22:00 UTC" || list.NextCursor != nil {
		t.Fatalf("announcements: %d %s", res.Status, res.Body)
	}

	ts.wantErrorCases(t, []errorCase{
		{"ErrBroadcastNotAdmin", "POST", "/api/v1/admin/broadcast", alice.Token, map[string]string{"message": "hi"}, 403},
		{"ErrOnlineNotAdmin", "GET", "/api/v1/admin/online", alice.Token, nil, 403},
		{"ErrEmptyMessage", "POST", "/api/v1/admin/broadcast", admin.Token, map[string]string{"message": "   "}, 400},
		{"ErrLongMessage", "POST", "/api/v1/admin/broadcast", admin.Token, map[string]string{"message": strings.Repeat("x", 2001)}, 400},
		{"ErrAnnouncementsCursor", "GET", "/api/v1/announcements?cursor=zzz", alice.Token, nil, 400},
		{"ErrAnnouncementsLimit", "GET", "/api/v1/announcements?limit=1000", alice.Token, nil, 400},
		{"ErrAnnouncementsNoToken", "GET", "/api/v1/announcements", "", nil, 401},
	})
}

func TestSetUserRole(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.withRole(t, "root_admin", model.RoleAdmin)
	bob := ts.register(t, "bob")
	res := ts.do(t, "PATCH", "/api/v1/admin/users/"+itoa(bob.User.ID), admin.Token, map[string]string{"role": "moderator"})
	var u model.User
	res.JSON(t, &u)
	if res.Status != 200 || u.Role != "moderator" || u.ID != bob.User.ID {
		t.Fatalf("set role: %d %s", res.Status, res.Body)
	}
	ts.wantErrorCases(t, []errorCase{
		{"ErrNotAdmin", "PATCH", "/api/v1/admin/users/" + itoa(bob.User.ID), bob.Token, map[string]string{"role": "admin"}, 403},
		{"ErrBadRole", "PATCH", "/api/v1/admin/users/" + itoa(bob.User.ID), admin.Token, map[string]string{"role": "king"}, 400},
		{"ErrBadID", "PATCH", "/api/v1/admin/users/abc", admin.Token, map[string]string{"role": "user"}, 400},
		{"ErrNotFound", "PATCH", "/api/v1/admin/users/99999", admin.Token, map[string]string{"role": "user"}, 404},
		{"ErrNoBody", "PATCH", "/api/v1/admin/users/" + itoa(bob.User.ID), admin.Token, nil, 400},
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// nextOfType reads frames until one of type typ.
func nextOfType(t *testing.T, conn *websocket.Conn, typ string) frame {
	t.Helper()
	for {
		if f := readFrame(t, conn); f.Type == typ {
			return f
		}
	}
}

// nextNotification reads frames until a notification and returns its id
// and frame.
func nextNotification(t *testing.T, conn *websocket.Conn) (id int64, f frame) {
	t.Helper()
	f = nextOfType(t, conn, "notification")
	var n struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(f.Notification, &n); err != nil {
		t.Fatal(err)
	}
	return n.ID, f
}

// TestReplyReachesEveryConnection: a reply POSTed by B reaches both of A's
// open sockets at once, and A, reconnecting with since, receives exactly
// what it missed while away.
func TestReplyReachesEveryConnection(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	var post, comment struct {
		ID int64 `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/posts", alice.Token, map[string]string{"title": "Graphs", "body": "BFS or DFS?"}).JSON(t, &post)
	ts.do(t, "POST", "/api/v1/posts/"+itoa(post.ID)+"/comments", alice.Token, map[string]string{"body": "n is small"}).JSON(t, &comment)
	reply := func(body string) {
		t.Helper()
		res := ts.do(t, "POST", "/api/v1/posts/"+itoa(post.ID)+"/comments", bob.Token, map[string]any{"body": body, "parent_id": comment.ID})
		if res.Status != 201 {
			t.Fatalf("reply: %d %s", res.Status, res.Body)
		}
	}

	tab1 := ts.dialWS(t, "?token="+alice.Token, nil)
	tab2 := ts.dialWS(t, "?token="+alice.Token, nil)
	reply("BFS, for shortest paths")
	id1, f1 := nextNotification(t, tab1)
	id2, f2 := nextNotification(t, tab2)
	if id1 != id2 || f1.Replayed || f2.Replayed || f1.UnreadCount != 1 {
		t.Fatalf("tab1 got %d %+v, tab2 got %d %+v", id1, f1, id2, f2)
	}

	// Both tabs close; two replies arrive meanwhile; one tab comes back.
	tab1.Close()
	tab2.Close()
	reply("or Dijkstra with weights")
	reply("or 0-1 BFS")
	back := ts.dialWS(t, "?since="+itoa(id1)+"&token="+alice.Token, nil)
	m1, g1 := nextNotification(t, back)
	m2, g2 := nextNotification(t, back)
	if m1 <= id1 || m2 <= m1 || !g1.Replayed || !g2.Replayed {
		t.Fatalf("after since=%d: %d %+v, %d %+v", id1, m1, g1, m2, g2)
	}
	// Nothing more: the next frame answers a ping.
	if err := back.WriteJSON(map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, back); f.Type != "pong" {
		t.Fatalf("after the replay: %+v, want pong", f)
	}
}
