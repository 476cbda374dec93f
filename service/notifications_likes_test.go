package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/quizsite/discuss/model"
)

// Like notifications: to the author of a liked post or comment, once per
// liker and item, ever, never for one's own like; written in the like's
// transaction with the author's next seq, published after commit.

// likesOf returns the like notifications of user, oldest first.
func (f *fixture) likesOf(t testing.TB, userID int64) []*model.Notification {
	t.Helper()
	var likes []*model.Notification
	for _, n := range f.rowsOf(t, userID) {
		if n.Type == model.NotifyLike {
			likes = append(likes, n)
		}
	}
	return likes
}

func TestLikeNotifications(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "a post about Q7")
	aliceID, bobID := f.users["alice"].ID, f.users["bob"].ID
	c := f.comment(t, bob, p.ID, nil, "my answer to Q7")
	f.pub.take()

	t.Run("OK/Post", func(t *testing.T) {
		if _, err := f.posts.Like(bob, p.ID); err != nil {
			t.Fatal(err)
		}
		likes := f.likesOf(t, aliceID)
		if len(likes) != 1 {
			t.Fatalf("alice has %d like notifications, want 1", len(likes))
		}
		n := likes[0]
		if *n.ActorID != bobID || *n.PostID != p.ID || n.CommentID != nil || n.Excerpt != "a post about Q7" || n.Read {
			t.Errorf("like notification %+v", n)
		}
		got := f.pub.take()
		if len(got) != 1 || got[0].kind != "notification" || got[0].n.ID != n.ID || !got[0].committed ||
			got[0].n.Actor == nil || got[0].n.Actor.Username != "bob" || got[0].unread != 2 || got[0].unseen != 2 {
			t.Errorf("published %+v, want the like after commit with alice's counts", got)
		}
		checkSequence(t, f, aliceID)
	})
	t.Run("OK/OncePerLikerEver", func(t *testing.T) {
		for range 3 {
			if _, err := f.posts.Unlike(bob, p.ID); err != nil {
				t.Fatal(err)
			}
			st, err := f.posts.Like(bob, p.ID)
			if err != nil || st.LikeCount != 1 || !st.Liked {
				t.Fatalf("like again = %+v, %v", st, err)
			}
		}
		if likes := f.likesOf(t, aliceID); len(likes) != 1 {
			t.Errorf("alice has %d like notifications after unlike and like again, want 1", len(likes))
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v", got)
		}
	})
	t.Run("OK/Comment", func(t *testing.T) {
		if _, err := f.comments.Like(alice, c.ID); err != nil {
			t.Fatal(err)
		}
		likes := f.likesOf(t, bobID)
		if len(likes) != 1 || *likes[0].ActorID != aliceID || *likes[0].PostID != p.ID || likes[0].CommentID == nil ||
			*likes[0].CommentID != c.ID || likes[0].Excerpt != "my answer to Q7" {
			t.Fatalf("bob's like notifications %+v", likes)
		}
		if _, err := f.comments.Unlike(alice, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.comments.Like(alice, c.ID); err != nil {
			t.Fatal(err)
		}
		if likes := f.likesOf(t, bobID); len(likes) != 1 {
			t.Errorf("bob has %d like notifications, want 1", len(likes))
		}
		checkSequence(t, f, bobID)
		f.pub.take()
	})
	t.Run("OK/OwnLike", func(t *testing.T) {
		if _, err := f.posts.Like(alice, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.comments.Like(bob, c.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(f.likesOf(t, aliceID)); n != 1 {
			t.Errorf("alice has %d like notifications after liking her own post, want 1", n)
		}
		if n := len(f.likesOf(t, bobID)); n != 1 {
			t.Errorf("bob has %d like notifications after liking his own comment, want 1", n)
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v", got)
		}
	})
	t.Run("OK/LikeOfEach", func(t *testing.T) {
		// Each liker, and each item, is its own: carol's like of the post
		// and of the comment notify again.
		carol := f.as(t, "carol")
		if _, err := f.posts.Like(carol, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.comments.Like(carol, c.ID); err != nil {
			t.Fatal(err)
		}
		if a, b := len(f.likesOf(t, aliceID)), len(f.likesOf(t, bobID)); a != 2 || b != 2 {
			t.Errorf("like notifications: alice %d, bob %d; want 2 each", a, b)
		}
		f.pub.take()
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.posts.Like(bob, p.ID+1000)
		wantCode(t, err, model.ENOTFOUND, "post")
		_, err = f.comments.Like(alice, c.ID+1000)
		wantCode(t, err, model.ENOTFOUND, "comment")
	})
}

// TestLikesRaceOncePerLiker: many likers at once, each liking, unliking and
// liking again, give the author one notification each, in one unbroken
// sequence, and the like count the likers.
func TestLikesRaceOncePerLiker(t *testing.T) {
	f := newFixture(t)
	_, _, p := f.alicePost(t, "popular")
	const likers = 12
	ctxs := f.crowd(t, "liker_%d", likers)
	together(likers, func(i int) {
		for _, step := range []func(context.Context, int64) (*model.LikeState, error){f.posts.Like, f.posts.Unlike, f.posts.Like, f.posts.Like} {
			if _, err := step(ctxs[i], p.ID); err != nil {
				t.Error(err)
				return
			}
		}
	})
	aliceID := f.users["alice"].ID
	likes := f.likesOf(t, aliceID)
	actors := map[int64]bool{}
	for _, n := range likes {
		actors[*n.ActorID] = true
	}
	if len(likes) != likers || len(actors) != likers {
		t.Errorf("%d like notifications from %d likers, want %d from %d", len(likes), len(actors), likers, likers)
	}
	checkSequence(t, f, aliceID)
	got, err := f.posts.Get(f.as(t, "alice"), p.ID)
	if err != nil || got.LikeCount != likers {
		t.Errorf("like count %+v, %v; want %d", got, err, likers)
	}
}

// TestLikeRollsBackWithItsNotification: a like whose notification cannot
// be written leaves neither the like, its count nor its notice behind, so
// the next like notifies.
func TestLikeRollsBackWithItsNotification(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "post")
	heal := f.failOn(t, "create", "notifications", errors.New("injected failure"))
	_, err := f.posts.Like(bob, p.ID)
	if err == nil {
		t.Fatal("the like succeeded without its notification")
	}
	heal()
	if got, err := f.posts.Get(alice, p.ID); err != nil || got.LikeCount != 0 || got.Liked {
		t.Fatalf("after the failed like: %+v, %v", got, err)
	}
	if notices := f.countRows(t, &model.PostLikeNotice{}, ""); notices != 0 || len(f.pub.take()) != 0 {
		t.Fatalf("%d notices left, or published", notices)
	}
	if _, err := f.posts.Like(bob, p.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.likesOf(t, f.users["alice"].ID)); n != 1 {
		t.Errorf("%d like notifications after the like that worked, want 1", n)
	}
}
