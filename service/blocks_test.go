package service_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// TestBlockedUserNotifiesNothing: once alice blocks bob, bob's mentions,
// replies, comments, likes and the fan-out's thread comments notify her of
// nothing, while carol, who did not block him, hears of them all; and
// bob's posts and comments carry author_blocked in alice's views only.
func TestBlockedUserNotifiesNothing(t *testing.T) {
	f := newFixture(t)
	_, blocks := f.moderation(3, 20)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	aliceID, carolID := f.users["alice"].ID, f.users["carol"].ID
	p := f.post(t, alice, "alice's question")
	cp := f.post(t, carol, "carol's question")
	f.setLevel(t, alice, cp.ID, model.LevelWatching)
	mine := f.comment(t, alice, cp.ID, nil, "alice's answer")
	carols := f.comment(t, carol, p.ID, nil, "carol's answer")
	if err := blocks.Block(alice, f.users["bob"].ID); err != nil {
		t.Fatal(err)
	}
	f.drainFanout(t, 100)
	before := len(f.rowsOf(t, aliceID))
	beforeCarol := len(f.rowsOf(t, carolID))

	bobPost := f.post(t, bob, "hello @alice and @carol")       // mention
	f.comment(t, bob, p.ID, nil, "a comment on alice's post")  // post_comment
	f.comment(t, bob, cp.ID, mine, "a reply to alice, @carol") // comment_reply, and thread_comment to the watcher alice
	f.comment(t, bob, p.ID, carols, "a reply to carol")        // thread_comment to the post's author alice
	if _, err := f.posts.Like(bob, p.ID); err != nil {         // like
		t.Fatal(err)
	}
	if _, err := f.comments.Like(bob, mine.ID); err != nil {
		t.Fatal(err)
	}
	f.drainFanout(t, 100)
	if got := f.rowsOf(t, aliceID)[before:]; len(got) != 0 {
		for _, n := range got {
			t.Errorf("alice was notified: %s %q", n.Type, n.Excerpt)
		}
	}
	if got := len(f.rowsOf(t, carolID)) - beforeCarol; got < 3 {
		t.Errorf("carol got %d notifications from bob, want at least 3 (mention, comment, reply)", got)
	}

	got, err := f.posts.Get(alice, bobPost.ID)
	if err != nil || !got.AuthorBlocked {
		t.Errorf("alice sees bob's post: %+v, %v", got, err)
	}
	if got, _ := f.posts.Get(carol, bobPost.ID); got.AuthorBlocked {
		t.Error("carol sees bob's post as blocked")
	}
	thread, err := f.comments.List(alice, p.ID, service.CommentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var flags []bool
	for _, c := range thread.Items {
		flags = append(flags, c.AuthorBlocked)
		for _, r := range c.Replies {
			flags = append(flags, r.AuthorBlocked)
		}
	}
	if want := []bool{false, true, true}; !slices.Equal(flags, want) {
		t.Errorf("author_blocked in alice's thread: %v, want %v", flags, want)
	}
}

// TestBlockWithdrawsAndLists: a block withdraws the blocker's
// notifications caused by the blocked user (not system ones) and
// publishes the new counts; blocks are listed, undone, and refused for
// oneself and unknown users.
func TestBlockWithdrawsAndLists(t *testing.T) {
	f := newFixture(t)
	_, blocks := f.moderation(3, 20)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	admin := f.asRole(t, "boss", model.RoleAdmin)
	aliceID, bobID, adminID := f.users["alice"].ID, f.users["bob"].ID, f.users["boss"].ID
	f.post(t, bob, "hi @alice")
	if _, err := f.notes.SendSystem(admin, aliceID, "welcome"); err != nil {
		t.Fatal(err)
	}
	f.pub.take()
	for _, id := range []int64{bobID, bobID, adminID} {
		if err := blocks.Block(alice, id); err != nil {
			t.Fatal(err)
		}
	}
	rows := f.rowsOf(t, aliceID)
	if len(rows) != 1 || rows[0].Type != model.NotifySystem {
		t.Errorf("alice keeps %+v, want the system notification alone", rows)
	}
	calls := f.pub.take()
	if len(calls) != 1 || calls[0].kind != "unread_count" || calls[0].userID != aliceID || calls[0].unread != 1 || !calls[0].committed {
		t.Errorf("published %+v", calls)
	}
	list, err := blocks.List(alice, 1, "")
	if err != nil || len(list.Items) != 1 || list.Items[0].User.ID != adminID || list.NextCursor == nil {
		t.Fatalf("blocks: %+v, %v", list, err)
	}
	list, err = blocks.List(alice, 1, *list.NextCursor)
	if err != nil || len(list.Items) != 1 || list.Items[0].User.Username != "bob" || list.NextCursor != nil {
		t.Fatalf("blocks, page 2: %+v, %v", list, err)
	}
	for range 2 {
		if err := blocks.Unblock(alice, bobID); err != nil {
			t.Fatal(err)
		}
	}
	f.post(t, bob, "hi again @alice")
	if rows := f.rowsOf(t, aliceID); len(rows) != 2 {
		t.Errorf("after unblock alice has %d notifications, want 2", len(rows))
	}
	wantCode(t, blocks.Block(alice, aliceID), model.EINVALID, "yourself")
	wantCode(t, blocks.Block(alice, 9999), model.ENOTFOUND, "user")
	wantCode(t, blocks.Unblock(alice, 9999), model.ENOTFOUND, "user")
	_, err = blocks.List(alice, 0, "nope")
	wantCode(t, err, model.EINVALID, "cursor")
}

// TestReadsRecheckBlocksAndHides: a notification that a block or a hide
// did not withdraw (one that a writer planned before the block committed
// and wrote after it) is left out of every read of the user's
// notifications, replay and lists alike, while the head still covers it,
// so the hub's cursor moves past it.
func TestReadsRecheckBlocksAndHides(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	aliceID := f.users["alice"].ID
	p := f.post(t, alice, "a question")
	f.comment(t, bob, p.ID, nil, "from bob")
	hiddenLater := f.comment(t, carol, p.ID, nil, "from carol, hidden later")
	f.comment(t, carol, p.ID, nil, "from carol")
	rows := f.rowsOf(t, aliceID)
	if len(rows) != 3 {
		t.Fatalf("alice has %d notifications, want 3", len(rows))
	}
	// The block and the hide as a racing writer leaves them: committed,
	// with the rows they would have withdrawn still there.
	if err := f.db.Create(&model.UserBlock{UserID: aliceID, BlockedID: f.users["bob"].ID, CreatedAt: service.Now()}).Error; err != nil {
		t.Fatal(err)
	}
	if err := f.db.Model(&model.Comment{}).Where("id = ?", hiddenLater.ID).Update("hidden", true).Error; err != nil {
		t.Fatal(err)
	}
	want := []int64{rows[2].ID}
	ids := func(list []*model.Notification, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pluck(list, notificationID)
	}
	if got := ids(f.store.NotificationsAfter(ctx, aliceID, 0, 500)); !slices.Equal(got, want) {
		t.Errorf("replay since 0: %v, want %v", got, want)
	}
	if got := ids(f.store.UnreadNotifications(ctx, aliceID, 100)); !slices.Equal(got, want) {
		t.Errorf("unread replay: %v, want %v", got, want)
	}
	missed, err := f.store.MissedNotifications(ctx, []model.NotificationRange{{UserID: aliceID, UpToSeq: 100}})
	if err != nil || len(missed) != 1 || !slices.Equal(ids(missed[0].List, nil), want) {
		t.Errorf("missed: %+v, %v", missed, err)
	}
	head, err := f.store.NotificationHead(ctx, aliceID)
	if err != nil || head.LastID != rows[2].ID {
		t.Errorf("head %+v, %v: it must still cover the rows left out", head, err)
	}
	page, err := f.notes.List(alice, service.ListNotifications{})
	if err != nil || !slices.Equal(ids(page.Items, nil), want) {
		t.Errorf("list: %+v, %v", page, err)
	}
	groups, err := f.notes.ListGrouped(alice, service.ListNotifications{})
	if err != nil || len(groups.Items) != 1 || groups.Items[0].Count != 1 || groups.Items[0].Latest.ID != rows[2].ID {
		t.Errorf("grouped: %+v, %v", groups, err)
	}
}

// TestBlockRacingWriters: bob comments and likes while alice blocks him.
// Whatever the order of commits, alice keeps no notification of his: each
// writer either saw the block or committed before it and was withdrawn by
// it.
func TestBlockRacingWriters(t *testing.T) {
	f := newFixture(t)
	_, blocks := f.moderation(3, 20)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "a question")
	const writers = 8
	together(writers+1, func(i int) {
		if i == writers {
			if err := blocks.Block(alice, f.users["bob"].ID); err != nil {
				t.Errorf("block: %v", err)
			}
		} else if _, err := f.comments.Create(bob, p.ID, service.CommentInput{Body: fmt.Sprintf("@alice look %d", i)}); err != nil {
			t.Errorf("comment: %v", err)
		}
	})
	if n := f.countRows(t, &model.Notification{}, "user_id = ? AND actor_id = ?", f.users["alice"].ID, f.users["bob"].ID); n != 0 {
		t.Errorf("alice keeps %d notifications of bob", n)
	}
}
