package api

// What tests set up through the API before what they test: users, posts,
// comments, likes, and lists walked to their end.

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

// likeStep is one like (PUT) or unlike (DELETE) by a user and the exact
// body it must be answered with.
type likeStep struct {
	method string
	s      session
	want   string
}

// wantLikeSteps sends the steps to the like route path in order; each must
// answer 200 with its body.
func (ts *testServer) wantLikeSteps(t *testing.T, path string, steps []likeStep) {
	t.Helper()
	for i, step := range steps {
		res := ts.doChecked(t, step.method, path, step.s.Token, nil)
		if res.Status != 200 || string(res.Body) != step.want {
			t.Errorf("step %d: %d %s, want %s", i, res.Status, res.Body, step.want)
		}
	}
}

// wantLikesCountOnce checks the like route path, of a post or a comment
// nobody has liked: a likes it twice and counts once, b likes it too, then
// unliker, a or b, unlikes it twice and uncounts once.
func (ts *testServer) wantLikesCountOnce(t *testing.T, path string, a, b, unliker session) {
	t.Helper()
	ts.wantLikeSteps(t, path, []likeStep{
		{"PUT", a, `{"like_count":1,"liked":true}`},
		{"PUT", a, `{"like_count":1,"liked":true}`},
		{"PUT", b, `{"like_count":2,"liked":true}`},
		{"DELETE", unliker, `{"like_count":1,"liked":false}`},
		{"DELETE", unliker, `{"like_count":1,"liked":false}`},
	})
}

// pageIDs walks a list from target, whose query already has at least a
// limit, through next_cursor to the last page, and returns the ids of the
// items (a subscription's: its post's) in the order listed. Every page must
// answer 200.
func (ts *testServer) pageIDs(t *testing.T, token, target string) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for range 100 {
		res := ts.doChecked(t, "GET", target+cursor, token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target+cursor, res.Status, res.Body)
		}
		var page struct {
			Items []struct {
				ID   int64 `json:"id"`
				Post *struct {
					ID int64 `json:"id"`
				} `json:"post"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		res.JSON(t, &page)
		for _, it := range page.Items {
			if it.Post != nil {
				it.ID = it.Post.ID
			}
			ids = append(ids, it.ID)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("GET %s: more than 100 pages", target)
	return nil
}

// createPost creates a post through the API and returns it.
func (ts *testServer) createPost(t *testing.T, token, title string, problemID ...int64) model.Post {
	t.Helper()
	body := map[string]any{"title": title, "body": "body of " + title}
	if len(problemID) > 0 {
		body["problem_id"] = problemID[0]
	}
	return decodeAs[model.Post](t, ts.doChecked(t, "POST", "/api/v1/posts", token, body), http.StatusCreated, "create post")
}

// newServerWithPost starts a test server on which alice has written post
// "p" and bob has signed up: where most tests of posts and comments begin.
// edit, when given, changes the configuration first.
func newServerWithPost(t *testing.T, edit ...func(*configs.Config)) (ts *testServer, alice, bob session, p model.Post) {
	t.Helper()
	ts = newTestServer(t, edit...)
	alice, bob = ts.register(t, "alice"), ts.register(t, "bob")
	return ts, alice, bob, ts.createPost(t, alice.Token, "p")
}

// createComment comments on post postID, replying to parent when it is not
// nil, and returns the comment.
func (ts *testServer) createComment(t *testing.T, token string, postID int64, parent *model.Comment) model.Comment {
	t.Helper()
	var parentID int64
	if parent != nil {
		parentID = parent.ID
	}
	return ts.commentWith(t, token, postID, parentID, "a comment")
}

// commentWith comments body on post postID, replying to parentID when it is
// not 0.
func (ts *testServer) commentWith(t *testing.T, token string, postID, parentID int64, body string) model.Comment {
	t.Helper()
	req := map[string]any{"body": body}
	if parentID != 0 {
		req["parent_id"] = parentID
	}
	res := ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", postID), token, req)
	return decodeAs[model.Comment](t, res, http.StatusCreated, "create comment")
}

// commentPage is a list of comments as the API answers it.
type commentPage struct {
	Items      []model.Comment `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// session is a signed-in test user.
type session struct {
	User  model.User `json:"user"`
	Token string     `json:"token"`
}

// register signs up a user through the API and returns its session.
func (ts *testServer) register(t testing.TB, username string) session {
	t.Helper()
	res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": username, "password": "password123"})
	return decodeAs[session](t, res, http.StatusCreated, "register "+username)
}

// withRole signs up a user and gives it role directly in the database.
func (ts *testServer) withRole(t testing.TB, username, role string) session {
	t.Helper()
	s := ts.register(t, username)
	if err := ts.DB.Model(&model.User{}).Where("id = ?", s.User.ID).Update("role", role).Error; err != nil {
		t.Fatal(err)
	}
	s.User.Role = role
	return s
}
