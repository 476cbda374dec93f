package service_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// describe is a live-thread event in a line a test can compare.
func describe(e *model.ThreadEvent) string {
	s := fmt.Sprintf("%s post=%d", e.Type, e.PostID)
	if e.Comment != nil {
		s += fmt.Sprintf(" comment=%d prev=%d liked=%v", e.Comment.ID, e.PrevCommentID, e.Comment.Liked)
	}
	if e.CommentID != nil {
		s += fmt.Sprintf(" comment_id=%d", *e.CommentID)
	}
	if e.Post != nil {
		s += fmt.Sprintf(" post.title=%q liked=%v subscription=%s", e.Post.Title, e.Post.Liked, e.Post.Subscription)
	}
	if e.Type == model.ThreadLikeCount {
		s += fmt.Sprintf(" like_count=%d", e.LikeCount)
	}
	return s
}

func (f *fixture) wantThreads(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for _, e := range f.pub.takeThreads() {
		got = append(got, describe(e))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("live-thread events\n got %q\nwant %q", got, want)
	}
}

// TestThreadEvents: each change to a discussion publishes its event after
// commit, with the objects a reader who has liked nothing sees; a comment
// names the post's comment before it, whatever other posts do meanwhile.
func TestThreadEvents(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "why TLE?")
	other := f.post(t, bob, "another")
	f.pub.takeThreads()

	c1 := f.comment(t, bob, p.ID, nil, "memoize")
	f.comment(t, bob, other.ID, nil, "elsewhere")
	c2 := f.comment(t, alice, p.ID, c1, "thanks")
	f.wantThreads(t,
		fmt.Sprintf("comment_created post=%d comment=%d prev=0 liked=false", p.ID, c1.ID),
		fmt.Sprintf("comment_created post=%d comment=%d prev=0 liked=false", other.ID, c1.ID+1),
		fmt.Sprintf("comment_created post=%d comment=%d prev=%d liked=false", p.ID, c2.ID, c1.ID))

	// bob likes his own comment, then edits it: the edit is shown unliked.
	if _, err := f.comments.Like(bob, c1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.comments.Like(bob, c1.ID); err != nil { // no change, no event
		t.Fatal(err)
	}
	if _, err := f.comments.Update(bob, c1.ID, service.CommentPatch{Body: ptr("memoize it")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.posts.Like(alice, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.posts.Unlike(bob, p.ID); err != nil { // bob never liked it: no event
		t.Fatal(err)
	}
	if _, err := f.posts.Update(alice, p.ID, service.PostPatch{Title: ptr("DP on trees")}); err != nil {
		t.Fatal(err)
	}
	if err := f.comments.Delete(alice, c2.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.posts.Delete(alice, p.ID); err != nil {
		t.Fatal(err)
	}
	f.wantThreads(t,
		fmt.Sprintf("like_count post=%d comment_id=%d like_count=1", p.ID, c1.ID),
		fmt.Sprintf("comment_updated post=%d comment=%d prev=0 liked=false", p.ID, c1.ID),
		fmt.Sprintf("like_count post=%d like_count=1", p.ID),
		fmt.Sprintf("post_updated post=%d post.title=\"DP on trees\" liked=false subscription=normal", p.ID),
		fmt.Sprintf("comment_deleted post=%d comment_id=%d", p.ID, c2.ID),
		fmt.Sprintf("post_deleted post=%d", p.ID))

	// A refused change publishes nothing.
	if _, err := f.comments.Create(bob, p.ID, service.CommentInput{Body: "late"}); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("comment on a deleted post: %v", err)
	}
	f.wantThreads(t)
}

// TestThreadEventPublishFails: a publish that fails is logged; the change
// stands.
func TestThreadEventPublishFails(t *testing.T) {
	f := newFixture(t)
	_, bob, p := f.alicePost(t, "post")
	f.pub.setErr(errors.New("broker down"))
	if _, err := f.comments.Create(bob, p.ID, service.CommentInput{Body: "still saved"}); err != nil {
		t.Fatal(err)
	}
	wantLogged(t, f.logs, "live thread: publish")
}

// TestThreadChainConcurrent: comments written at once on one post each
// name the one committed before them: one chain from 0, no fork.
func TestThreadChainConcurrent(t *testing.T) {
	f := newFixture(t)
	_, _, p := f.alicePost(t, "hot")
	f.pub.takeThreads()
	users := f.crowd(t, "writer%d", 10)
	together(len(users), func(i int) {
		for range 5 {
			if _, err := f.comments.Create(users[i], p.ID, service.CommentInput{Body: "answer"}); err != nil {
				t.Error(err)
			}
		}
	})
	prevOf := map[int64]int64{}
	for _, e := range f.pub.takeThreads() {
		prevOf[e.Comment.ID] = e.PrevCommentID
	}
	head, err := f.store.ThreadHead(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for id := head; id != 0; id = prevOf[id] {
		if n++; n > len(prevOf) {
			t.Fatal("the chain loops")
		}
		if _, ok := prevOf[id]; !ok {
			t.Fatalf("the chain from the head %d reaches %d, which no event names", head, id)
		}
	}
	if n != 50 {
		t.Fatalf("the chain from the head has %d comments, want 50", n)
	}
}

// TestThreadStore: the hub's reads of a thread: the head, and the visible
// comments and replies in a range, oldest first, as a reader who has liked
// nothing sees them.
func TestThreadStore(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	alice, bob, p := f.alicePost(t, "post")
	if head, err := f.store.ThreadHead(ctx, p.ID); err != nil || head != 0 {
		t.Fatalf("head of a post without comments: %d %v", head, err)
	}
	top := f.comment(t, bob, p.ID, nil, "top")
	reply := f.comment(t, alice, p.ID, top, "reply")
	gone := f.comment(t, alice, p.ID, top, "gone")
	f.comment(t, bob, f.post(t, bob, "other").ID, nil, "elsewhere")
	last := f.comment(t, bob, p.ID, nil, "last")
	if _, err := f.comments.Like(alice, reply.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.comments.Delete(alice, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.comments.Delete(bob, top.ID); err != nil { // a placeholder: it has a reply
		t.Fatal(err)
	}
	head, err := f.store.ThreadHead(ctx, p.ID)
	if err != nil || head != last.ID {
		t.Fatalf("head %d %v, want %d", head, err, last.ID)
	}
	ids := func(list []*model.Comment) string {
		var out []string
		for _, c := range list {
			s := fmt.Sprint(c.ID)
			if c.Deleted {
				s += "(placeholder)"
			}
			if c.Liked || (c.Author == nil && !c.Deleted) {
				s += "(wrong view)"
			}
			out = append(out, s)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		name        string
		after, upTo int64
		limit       int
		want        string
	}{
		{"OK", 0, head, 10, fmt.Sprintf("[%d(placeholder) %d %d]", top.ID, reply.ID, last.ID)},
		{"OKAfter", top.ID, head, 10, fmt.Sprintf("[%d %d]", reply.ID, last.ID)},
		{"OKUpToHead", 0, reply.ID, 10, fmt.Sprintf("[%d(placeholder) %d]", top.ID, reply.ID)},
		{"OKLimit", 0, head, 1, fmt.Sprintf("[%d(placeholder)]", top.ID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := f.store.ThreadComments(ctx, p.ID, tc.after, tc.upTo, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(list); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("ErrInvalidLimit", func(t *testing.T) {
		_, err := f.store.ThreadComments(ctx, p.ID, 0, head, 0)
		wantCode(t, err, model.EINVALID, "limit")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if err := f.posts.Delete(alice, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.store.ThreadHead(ctx, p.ID)
		wantCode(t, err, model.ENOTFOUND, "")
		_, err = f.store.ThreadHead(ctx, 999999)
		wantCode(t, err, model.ENOTFOUND, "")
	})
}

// TestThreadHiddenContent: hiding a comment or a post tells its followers
// it is gone (comment_deleted, post_deleted), hidden content publishes
// nothing more, and the hub's reads leave it out.
func TestThreadHiddenContent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	alice, bob, p := f.alicePost(t, "post")
	c := f.comment(t, bob, p.ID, nil, "spam")
	keep := f.comment(t, bob, p.ID, nil, "fine")
	m, _ := f.moderation(1, 100)
	f.pub.takeThreads()

	f.report(t, m, alice, model.TargetComment, c.ID)
	f.wantThreads(t, fmt.Sprintf("comment_deleted post=%d comment_id=%d", p.ID, c.ID))
	// Its author may still edit it; readers hear nothing of it.
	if _, err := f.comments.Update(bob, c.ID, service.CommentPatch{Body: ptr("still spam")}); err != nil {
		t.Fatal(err)
	}
	if err := f.comments.Delete(bob, c.ID); err != nil {
		t.Fatal(err)
	}
	f.wantThreads(t)
	head, err := f.store.ThreadHead(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.store.ThreadComments(ctx, p.ID, 0, head, 10)
	if err != nil || len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("thread after hiding: %v %v", list, err)
	}

	f.report(t, m, f.as(t, "carol"), model.TargetPost, p.ID)
	f.wantThreads(t, fmt.Sprintf("post_deleted post=%d", p.ID))
	_, err = f.store.ThreadHead(ctx, p.ID)
	wantCode(t, err, model.ENOTFOUND, "")
	if err := f.posts.Delete(alice, p.ID); err != nil {
		t.Fatal(err)
	}
	f.wantThreads(t)
}
