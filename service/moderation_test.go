package service_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// moderation returns the moderation and blocks services over f, hiding
// after hideAfter reports and allowing perDay reports a day.
func (f *fixture) moderation(hideAfter, perDay int) (*service.Moderation, *service.Blocks) {
	return service.NewModeration(f.db.DB, f.notes, service.ModerationConfig{HideAfterReports: hideAfter, ReportsPerDay: perDay}),
		service.NewBlocks(f.db.DB, f.notes)
}

func (f *fixture) report(t testing.TB, m *service.Moderation, ctx context.Context, typ string, id int64) *model.Report {
	t.Helper()
	r, err := m.Report(ctx, typ, id, service.ReportInput{Reason: model.ReasonSpam})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// reportedThread is alice's post with bob's comment in it, which notified
// alice (post_comment) and dave (mention), and which carol liked
// (notifying bob): three notifications point into the comment.
func (f *fixture) reportedThread(t *testing.T) (p *model.Post, c *model.Comment) {
	t.Helper()
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	f.as(t, "dave")
	p = f.post(t, alice, "a question")
	c = f.comment(t, bob, p.ID, nil, "buy pills @dave")
	if _, err := f.comments.Like(f.as(t, "carol"), c.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.countRows(t, &model.Notification{}, "comment_id = ?", c.ID); n != 3 {
		t.Fatalf("%d notifications of the comment, want 3", n)
	}
	f.pub.take()
	return p, c
}

// TestThirdReportHides: the third distinct reporter's report hides the
// comment in its own transaction, withdrawing its notifications and
// taking it off the counters, and the users who lost unread ones hear
// their counts after commit. When any part of the hiding fails, the
// report fails with it: nothing of it is committed.
func TestThirdReportHides(t *testing.T) {
	f := newFixture(t)
	m, _ := f.moderation(3, 20)
	p, c := f.reportedThread(t)
	f.report(t, m, f.as(t, "erin"), model.TargetComment, c.ID)
	f.report(t, m, f.as(t, "frank"), model.TargetComment, c.ID)
	if got, err := f.comments.Get(f.as(t, "gina"), c.ID); err != nil || got.Hidden {
		t.Fatalf("after two reports: %+v, %v", got, err)
	}

	// The third report, with the notifications' delete failing: the
	// report is rolled back with it.
	failDelete := errors.New("injected failure")
	heal := f.failOn(t, "delete", "notifications", failDelete)
	if _, err := m.Report(f.as(t, "gina"), model.TargetComment, c.ID, service.ReportInput{Reason: model.ReasonOffensive}); !errors.Is(err, failDelete) {
		t.Fatalf("report with a failing hide: %v", err)
	}
	heal()
	if n := f.countRows(t, &model.Report{}, "target_id = ?", c.ID); n != 2 {
		t.Fatalf("%d reports after the failed one, want 2", n)
	}
	if n := f.countRows(t, &model.Comment{}, "id = ? AND hidden = ?", c.ID, true); n != 0 {
		t.Fatal("the comment was hidden by a report that failed")
	}

	f.report(t, m, f.as(t, "gina"), model.TargetComment, c.ID)
	if n := f.countRows(t, &model.Notification{}, "comment_id = ?", c.ID); n != 0 {
		t.Errorf("%d notifications of the hidden comment left", n)
	}
	post, err := f.posts.Get(f.as(t, "gina"), p.ID)
	if err != nil || post.CommentCount != 0 {
		t.Errorf("post after the hide: %+v, %v", post, err)
	}
	if _, err := f.comments.Get(f.as(t, "gina"), c.ID); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("a reader gets the hidden comment: %v", err)
	}
	var told []int64
	for _, call := range f.pub.take() {
		if call.kind != "unread_count" || !call.committed || call.unread != 0 {
			t.Errorf("publish %+v after the hide", call)
		}
		told = append(told, call.userID)
	}
	slices.Sort(told)
	want := []int64{f.users["alice"].ID, f.users["bob"].ID, f.users["dave"].ID}
	if !slices.Equal(told, want) {
		t.Errorf("counts published to %v, want %v", told, want)
	}
	var log []model.ModerationEntry
	if err := f.db.Find(&log).Error; err != nil || len(log) != 1 || log[0].Action != model.ActionAutoHide || log[0].ModeratorID != nil {
		t.Errorf("moderation log %+v, %v", log, err)
	}
}

// TestHiddenVisibility: hidden content is seen by its author (hidden
// true), moderators and admins, and by nobody else: not by id, not in
// lists, not in counts, not as a reply preview.
func TestHiddenVisibility(t *testing.T) {
	f := newFixture(t)
	m, _ := f.moderation(1, 20)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	mod, admin := f.asRole(t, "mod", model.RoleModerator), f.asRole(t, "boss", model.RoleAdmin)
	p := f.post(t, alice, "a question")
	top := f.comment(t, carol, p.ID, nil, "top")
	reply := f.comment(t, bob, p.ID, top, "spam reply")
	spamPost := f.post(t, bob, "spam post")
	f.report(t, m, carol, model.TargetComment, reply.ID)
	f.report(t, m, carol, model.TargetPost, spamPost.ID)

	for name, ctx := range map[string]context.Context{"author": bob, "moderator": mod, "admin": admin} {
		t.Run("Sees/"+name, func(t *testing.T) {
			c, err := f.comments.Get(ctx, reply.ID)
			if err != nil || !c.Hidden || c.Body != "spam reply" {
				t.Errorf("comment: %+v, %v", c, err)
			}
			sp, err := f.posts.Get(ctx, spamPost.ID)
			if err != nil || !sp.Hidden {
				t.Errorf("post: %+v, %v", sp, err)
			}
			posts, err := f.posts.List(ctx, service.PostQuery{})
			if err != nil || len(posts.Items) != 2 {
				t.Errorf("posts: %d, %v", len(posts.Items), err)
			}
			replies, err := f.comments.Replies(ctx, top.ID, 0, "")
			if err != nil || len(replies.Items) != 1 {
				t.Errorf("replies: %+v, %v", replies, err)
			}
		})
	}
	t.Run("UserDoesNot", func(t *testing.T) {
		for name, err := range map[string]error{
			"comment":                               errOf(f.comments.Get(alice, reply.ID)),
			"post":                                  errOf(f.posts.Get(alice, spamPost.ID)),
			"subscription of the hidden post":       errOf(f.posts.Subscription(alice, spamPost.ID)),
			"reset subscription of the hidden post": errOf(f.posts.ResetSubscription(alice, spamPost.ID)),
			"comments of the hidden post":           errOf(f.comments.List(alice, spamPost.ID, service.CommentQuery{})),
		} {
			if model.ErrorCode(err) != model.ENOTFOUND {
				t.Errorf("%s: %v", name, err)
			}
		}
		posts, err := f.posts.List(alice, service.PostQuery{})
		if err != nil || len(posts.Items) != 1 || posts.Items[0].ID != p.ID || posts.Items[0].CommentCount != 1 {
			t.Errorf("posts: %+v, %v", posts, err)
		}
		thread, err := f.comments.List(alice, p.ID, service.CommentQuery{})
		if err != nil || len(thread.Items) != 1 || len(thread.Items[0].Replies) != 0 || thread.Items[0].ReplyCount != 0 {
			t.Errorf("thread: %+v, %v", thread, err)
		}
		replies, err := f.comments.Replies(alice, top.ID, 0, "")
		if err != nil || len(replies.Items) != 0 {
			t.Errorf("replies: %+v, %v", replies, err)
		}
	})
	t.Run("TakesNothingNew", func(t *testing.T) {
		_, err := f.comments.Create(alice, p.ID, service.CommentInput{Body: "hi", ParentID: &reply.ID})
		wantCode(t, err, model.ENOTFOUND, "comment")
		_, err = f.comments.Create(bob, p.ID, service.CommentInput{Body: "hi", ParentID: &reply.ID})
		wantCode(t, err, model.EPERMISSION, "hidden")
		_, err = f.comments.Like(mod, reply.ID)
		wantCode(t, err, model.EPERMISSION, "hidden")
		_, err = f.posts.Like(alice, spamPost.ID)
		wantCode(t, err, model.ENOTFOUND, "post")
		_, err = f.comments.Create(mod, spamPost.ID, service.CommentInput{Body: "hi"})
		wantCode(t, err, model.EPERMISSION, "hidden")
	})
	t.Run("PlaceholderOfHiddenTop", func(t *testing.T) {
		hiddenTop := f.comment(t, bob, p.ID, nil, "spam top")
		f.comment(t, alice, p.ID, hiddenTop, "an honest reply")
		f.report(t, m, carol, model.TargetComment, hiddenTop.ID)
		thread, err := f.comments.List(alice, p.ID, service.CommentQuery{})
		if err != nil || len(thread.Items) != 2 {
			t.Fatalf("thread: %+v, %v", thread, err)
		}
		ph := thread.Items[1]
		if ph.ID != hiddenTop.ID || !ph.Deleted || ph.Body != "" || ph.Author != nil || ph.Hidden || len(ph.Replies) != 1 {
			t.Errorf("placeholder %+v", ph)
		}
		if got, err := f.comments.Get(bob, hiddenTop.ID); err != nil || !got.Hidden || got.Body != "spam top" {
			t.Errorf("its author: %+v, %v", got, err)
		}
	})
}

// TestResolve: dismiss shows the content again, puts it back on the
// counters and sends none of its withdrawn notifications again; hide keeps
// it hidden; delete deletes it; each is resolved once and logged.
func TestResolve(t *testing.T) {
	f := newFixture(t)
	m, _ := f.moderation(3, 20)
	mod := f.asRole(t, "mod", model.RoleModerator)
	p, c := f.reportedThread(t)
	for _, u := range []string{"erin", "frank", "gina"} {
		f.report(t, m, f.as(t, u), model.TargetComment, c.ID)
	}
	f.pub.take()
	queue, err := m.Queue(mod, service.ReportQuery{})
	if err != nil || len(queue.Items) != 1 {
		t.Fatalf("queue: %+v, %v", queue, err)
	}
	item := queue.Items[0]
	if item.TargetID != c.ID || item.ReportCount != 3 || !item.Hidden || item.Excerpt != "buy pills @dave" ||
		item.Author.Username != "bob" || !slices.Equal(item.Reasons, []string{model.ReasonSpam}) {
		t.Errorf("item %+v", item)
	}

	t.Run("Dismiss", func(t *testing.T) {
		got, err := m.Resolve(mod, item.ID, model.ActionDismiss)
		if err != nil || got.Status != model.CaseResolved || *got.Action != model.ActionDismiss || got.Resolver.Username != "mod" || got.Hidden {
			t.Fatalf("resolve: %+v, %v", got, err)
		}
		c2, err := f.comments.Get(f.as(t, "alice"), c.ID)
		if err != nil || c2.Hidden {
			t.Errorf("comment after dismiss: %+v, %v", c2, err)
		}
		post, _ := f.posts.Get(f.as(t, "alice"), p.ID)
		if post.CommentCount != 1 {
			t.Errorf("comment_count %d after dismiss, want 1", post.CommentCount)
		}
		if n := f.countRows(t, &model.Notification{}, "comment_id = ?", c.ID); n != 0 {
			t.Errorf("%d notifications after dismiss, want none sent again", n)
		}
		if calls := f.pub.take(); len(calls) != 0 {
			t.Errorf("dismiss published %+v", calls)
		}
		_, err = m.Resolve(mod, item.ID, model.ActionHide)
		wantCode(t, err, model.ECONFLICT, "resolved")
	})
	t.Run("ReportedAgainOpensAnother", func(t *testing.T) {
		_, err := m.Report(f.as(t, "erin"), model.TargetComment, c.ID, service.ReportInput{Reason: model.ReasonSpam})
		wantCode(t, err, model.ECONFLICT, "already")
		r := f.report(t, m, f.as(t, "henry"), model.TargetComment, c.ID)
		open, _ := m.Queue(mod, service.ReportQuery{Status: model.CaseOpen})
		if len(open.Items) != 1 || open.Items[0].ID == item.ID || open.Items[0].ReportCount != 1 || r.TargetID != c.ID {
			t.Fatalf("open queue %+v", open.Items)
		}
		got, err := m.Resolve(mod, open.Items[0].ID, model.ActionHide)
		if err != nil || !got.Hidden {
			t.Fatalf("hide: %+v, %v", got, err)
		}
		if _, err := f.comments.Get(f.as(t, "alice"), c.ID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Errorf("after hide: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		spam := f.post(t, f.as(t, "bob"), "more spam")
		f.report(t, m, f.as(t, "carol"), model.TargetPost, spam.ID)
		open, _ := m.Queue(mod, service.ReportQuery{})
		got, err := m.Resolve(mod, open.Items[0].ID, model.ActionDelete)
		if err != nil || !got.Deleted {
			t.Fatalf("delete: %+v, %v", got, err)
		}
		if _, err := f.posts.Get(mod, spam.ID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Errorf("deleted post: %v", err)
		}
	})
	t.Run("ResolvedListAndLog", func(t *testing.T) {
		resolved, err := m.Queue(mod, service.ReportQuery{Status: model.CaseResolved, Limit: 2})
		if err != nil || len(resolved.Items) != 2 || resolved.NextCursor == nil || *resolved.Items[0].Action != model.ActionDelete {
			t.Fatalf("resolved: %+v, %v", resolved, err)
		}
		rest, err := m.Queue(mod, service.ReportQuery{Status: model.CaseResolved, Limit: 2, Cursor: *resolved.NextCursor})
		if err != nil || len(rest.Items) != 1 || rest.Items[0].ID != item.ID || rest.NextCursor != nil {
			t.Fatalf("resolved, page 2: %+v, %v", rest, err)
		}
		_, err = m.Queue(mod, service.ReportQuery{Status: model.CaseOpen, Cursor: *resolved.NextCursor})
		wantCode(t, err, model.EINVALID, "cursor")
		_, err = m.Log(mod, 0, "")
		wantCode(t, err, model.EPERMISSION, "admin")
		log, err := m.Log(f.asRole(t, "boss", model.RoleAdmin), 0, "")
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range log.Items {
			actions = append(actions, e.Action)
			if (e.Moderator == nil) != (e.Action == model.ActionAutoHide) {
				t.Errorf("entry %+v", e)
			}
		}
		want := []string{model.ActionDelete, model.ActionHide, model.ActionDismiss, model.ActionAutoHide}
		if !slices.Equal(actions, want) {
			t.Errorf("log %v, want %v", actions, want)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		_, err := m.Queue(f.as(t, "alice"), service.ReportQuery{})
		wantCode(t, err, model.EPERMISSION, "moderator")
		_, err = m.Queue(mod, service.ReportQuery{Status: "pending"})
		wantCode(t, err, model.EINVALID, "status")
		_, err = m.Resolve(f.as(t, "alice"), item.ID, model.ActionHide)
		wantCode(t, err, model.EPERMISSION, "moderator")
		_, err = m.Resolve(mod, item.ID, "ban")
		wantCode(t, err, model.EINVALID, "action")
		_, err = m.Resolve(mod, 9999, model.ActionHide)
		wantCode(t, err, model.ENOTFOUND, "report")
	})
}

// TestReportRules: the reasons, the note, one report per user and target,
// none of one's own content nor of what one cannot see, and the limits.
func TestReportRules(t *testing.T) {
	f := newFixture(t)
	m, _ := f.moderation(3, 2)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "a question")
	c := f.comment(t, alice, p.ID, nil, "mine")
	report := func(ctx context.Context, typ string, id int64, reason, note string) error {
		_, err := m.Report(ctx, typ, id, service.ReportInput{Reason: reason, Note: note})
		return err
	}
	wantCode(t, report(bob, model.TargetPost, p.ID, "boring", ""), model.EINVALID, "reason")
	wantCode(t, report(bob, model.TargetPost, p.ID, model.ReasonOther, string(make([]byte, 501))), model.EINVALID, "note")
	wantCode(t, report(alice, model.TargetPost, p.ID, model.ReasonSpam, ""), model.EPERMISSION, "own")
	wantCode(t, report(alice, model.TargetComment, c.ID, model.ReasonSpam, ""), model.EPERMISSION, "own")
	wantCode(t, report(bob, model.TargetPost, 9999, model.ReasonSpam, ""), model.ENOTFOUND, "post")
	wantCode(t, report(bob, model.TargetComment, 9999, model.ReasonSpam, ""), model.ENOTFOUND, "comment")
	r, err := m.Report(bob, model.TargetComment, c.ID, service.ReportInput{Reason: model.ReasonOffTopic, Note: " see above "})
	if err != nil || r.Note != "see above" || r.PostID != p.ID || r.Reason != model.ReasonOffTopic {
		t.Fatalf("report: %+v, %v", r, err)
	}
	wantCode(t, report(bob, model.TargetComment, c.ID, model.ReasonSpam, ""), model.ECONFLICT, "already")
	if err := report(bob, model.TargetPost, p.ID, model.ReasonSpam, ""); err != nil {
		t.Fatal(err)
	}
	// bob has made his two reports of the day.
	other := f.post(t, alice, "another")
	err = report(bob, model.TargetPost, other.ID, model.ReasonSpam, "")
	wantCode(t, err, model.ERATELIMITED, "a day")
	if e, ok := errors.AsType[*model.Error](err); !ok || e.RetryAfter <= 23*time.Hour || e.RetryAfter > 24*time.Hour {
		t.Errorf("retry after %v", err)
	}
	// A day later they count no more.
	if err := f.db.Model(&model.Report{}).Where("reporter_id = ?", f.users["bob"].ID).
		UpdateColumn("created_at", service.Now().Add(-25*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	if err := report(bob, model.TargetPost, other.ID, model.ReasonSpam, ""); err != nil {
		t.Fatalf("after a day: %v", err)
	}
	deleted := f.post(t, alice, "gone")
	if err := f.posts.Delete(alice, deleted.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, report(f.as(t, "carol"), model.TargetPost, deleted.ID, model.ReasonSpam, ""), model.ENOTFOUND, "post")

	t.Run("RateLimited", func(t *testing.T) {
		limited := service.NewModeration(f.db.DB, f.notes, service.ModerationConfig{
			HideAfterReports: 3, ReportsPerDay: 20, Limiter: service.NewRateLimiter(1, time.Minute),
		})
		dave := f.as(t, "dave")
		if _, err := limited.Report(dave, model.TargetPost, p.ID, service.ReportInput{Reason: model.ReasonSpam}); err != nil {
			t.Fatal(err)
		}
		_, err := limited.Report(dave, model.TargetPost, other.ID, service.ReportInput{Reason: model.ReasonSpam})
		wantCode(t, err, model.ERATELIMITED, "")
	})
}

// TestConcurrentReports: reporters racing on one comment queue on its
// post's lock: exactly hide_after_reports of them are recorded, the one
// that reaches the threshold hides it, and the others find it hidden
// (404: they may not see it); one case, one log entry, no error else.
func TestConcurrentReports(t *testing.T) {
	f := newFixture(t)
	m, _ := f.moderation(3, 20)
	_, c := f.reportedThread(t)
	const reporters = 8
	ctxs := f.crowd(t, "reporter%d", reporters)
	errs := make([]error, reporters)
	together(reporters, func(i int) {
		_, errs[i] = m.Report(ctxs[i], model.TargetComment, c.ID, service.ReportInput{Reason: model.ReasonSpam})
	})
	ok := 0
	for _, err := range errs {
		switch model.ErrorCode(err) {
		case "":
			ok++
		case model.ENOTFOUND:
		default:
			t.Errorf("report: %v", err)
		}
	}
	if ok != 3 {
		t.Errorf("%d reports recorded, want 3", ok)
	}
	if n := f.countRows(t, &model.ReportCase{}, "target_id = ? AND report_count = ?", c.ID, 3); n != 1 {
		t.Errorf("%d cases of 3 reports, want 1", n)
	}
	if n := f.countRows(t, &model.ModerationEntry{}, "action = ?", model.ActionAutoHide); n != 1 {
		t.Errorf("%d auto_hide entries, want 1", n)
	}
	if n := f.countRows(t, &model.Notification{}, "comment_id = ?", c.ID); n != 0 {
		t.Errorf("%d notifications left", n)
	}
}
