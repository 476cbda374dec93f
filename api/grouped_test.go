package api

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/quizsite/discuss/model"
)

// groupPage is the grouped view as the API answers it.
type groupPage struct {
	Items []struct {
		Key             string             `json:"key"`
		Type            string             `json:"type"`
		PostID          *int64             `json:"post_id"`
		CommentID       *int64             `json:"comment_id"`
		Count           int64              `json:"count"`
		Actors          []model.Author     `json:"actors"`
		Latest          model.Notification `json:"latest"`
		Unread          int64              `json:"unread"`
		NotificationIDs []int64            `json:"notification_ids"`
	} `json:"items"`
	NextCursor  *string `json:"next_cursor"`
	UnreadCount int64   `json:"unread_count"`
	UnseenCount int64   `json:"unseen_count"`
}

func TestGroupedNotifications(t *testing.T) {
	t.Parallel()
	ts, alice, bob, post := newServerWithPost(t)
	carol := ts.register(t, "carol")
	ts.commentWith(t, bob.Token, post.ID, 0, "like this")
	ts.commentWith(t, carol.Token, post.ID, 0, "or this")
	ts.commentWith(t, bob.Token, post.ID, 0, "@alice and this")
	ts.wantLikeSteps(t, fmt.Sprintf("/api/v1/posts/%d/like", post.ID), []likeStep{{"PUT", carol, `{"like_count":1,"liked":true}`}})

	grouped := func(t *testing.T, query string) groupPage {
		t.Helper()
		return decodeAs[groupPage](t, ts.doChecked(t, "GET", "/api/v1/notifications/grouped"+query, alice.Token, nil), http.StatusOK, "grouped")
	}
	t.Run("OK", func(t *testing.T) {
		page := grouped(t, "")
		// The like, the mention (never grouped), then the two comments.
		if len(page.Items) != 3 || page.NextCursor != nil || page.UnreadCount != 4 || page.UnseenCount != 4 {
			t.Fatalf("page %+v", page)
		}
		like, mention, comments := page.Items[0], page.Items[1], page.Items[2]
		if like.Type != model.NotifyLike || like.Count != 1 || *like.PostID != post.ID || like.CommentID != nil {
			t.Errorf("like group %+v", like)
		}
		if mention.Type != model.NotifyMention || mention.Count != 1 || len(mention.Actors) != 1 || mention.Actors[0].ID != bob.User.ID {
			t.Errorf("mention group %+v", mention)
		}
		if comments.Type != model.NotifyPostComment || comments.Count != 2 || comments.Unread != 2 || len(comments.Actors) != 2 ||
			comments.Actors[0].ID != carol.User.ID || comments.Actors[1].ID != bob.User.ID ||
			len(comments.NotificationIDs) != 2 || comments.Latest.ID != comments.NotificationIDs[0] || comments.Key == mention.Key {
			t.Errorf("comment group %+v", comments)
		}
		// A group's ids are what POST /notifications/read takes.
		if got := ts.unread(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"ids": comments.NotificationIDs}); got != 2 {
			t.Errorf("unread_count %d after reading the group, want 2", got)
		}
		if page := grouped(t, "?unread_only=true"); len(page.Items) != 2 || page.UnreadCount != 2 {
			t.Errorf("unread groups %+v", page)
		}
	})
	t.Run("OK/Pages", func(t *testing.T) {
		var keys []string
		q := "?limit=1"
		for range 5 {
			page := grouped(t, q)
			for _, g := range page.Items {
				keys = append(keys, g.Key)
			}
			if page.NextCursor == nil {
				break
			}
			q = "?limit=1&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		all := grouped(t, "")
		if len(keys) != len(all.Items) {
			t.Fatalf("walked %v, want %d groups", keys, len(all.Items))
		}
		for i, g := range all.Items {
			if keys[i] != g.Key {
				t.Errorf("walked %v, group %d is %s", keys, i, g.Key)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		plain := ts.notifications(t, alice.Token, "?limit=1")
		for _, tt := range []struct{ query, text string }{
			{"?limit=0", "limit"},
			{"?limit=101", "limit"},
			{"?limit=abc", "limit"},
			{"?unread_only=maybe", "unread_only"},
			{"?cursor=garbage", "cursor"},
			{"?cursor=" + url.QueryEscape(*plain.NextCursor), "cursor"},
		} {
			res := ts.doChecked(t, "GET", "/api/v1/notifications/grouped"+tt.query, alice.Token, nil)
			wantError(t, res, http.StatusBadRequest, model.EINVALID, tt.text)
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		res := ts.doChecked(t, "GET", "/api/v1/notifications/grouped", "", nil)
		wantError(t, res, http.StatusUnauthorized, model.EUNAUTHENTICATED, "")
	})
}
