package service

import (
	"context"
	"fmt"
	"time"

	"github.com/quizsite/discuss/model"
)

// The grouped view of the bell: "ana and 3 others commented on your post".
// Groups are computed when listed, as Mastodon 4.3 does; the rows, their
// ids and since are the same with or without grouping.

const (
	// groupSpan is how far back from a group's newest notification older
	// ones of its type and target still join it.
	groupSpan = 12 * time.Hour
	// groupActors is how many of a group's most recent distinct actors it
	// names, and groupIDs how many of its ids, newest first, it lists.
	groupActors = 3
	groupIDs    = 100
	// notificationGroupsSort names the grouped view's order in its cursors.
	notificationGroupsSort = "notification_groups"
)

// NotificationGroup is notifications of one type about one target that
// fall within groupSpan of the newest of them, or one notification of a
// type that is not grouped.
type NotificationGroup struct {
	// Key names the group within a listing: its type, target and newest
	// notification (so it changes when a newer one joins).
	Key  string `json:"key"`
	Type string `json:"type"`
	// PostID is the target's post; CommentID the target comment, nil when
	// the target is the post. A group of one has its notification's.
	PostID    *int64 `json:"post_id"`
	CommentID *int64 `json:"comment_id"`
	Count     int64  `json:"count"`
	// Actors are the most recent distinct actors, newest first.
	Actors []*model.Author     `json:"actors"`
	Latest *model.Notification `json:"latest"`
	Unread int64               `json:"unread"`
	// NotificationIDs are the group's ids, newest first, at most groupIDs:
	// what POST /notifications/read takes to mark the group read.
	NotificationIDs []int64 `json:"notification_ids"`

	// window is the oldest time a notification may have to join the
	// group; zero for a group of one.
	window time.Time
	actors map[int64]bool
}

// NotificationGroupPage is one page of the grouped view, newest group
// first, with the user's counts.
type NotificationGroupPage struct {
	Page[*NotificationGroup]
	model.NotificationCounts
}

// groupTarget is what notifications of one group share: the type and the
// target, a post or a comment.
type groupTarget struct {
	typ     string
	post    int64
	comment int64
}

// groupedRow is a notification read for the grouped view: with its actor,
// and for a reply the comment it answers.
type groupedRow struct {
	model.Notification `gorm:"embedded"`
	ActorUsername      *string
	ActorDisplayName   *string
	RepliedTo          *int64
}

// notification returns the row's notification with its actor.
func (r *groupedRow) notification() *model.Notification {
	row := notificationRow{Notification: r.Notification, ActorUsername: r.ActorUsername, ActorDisplayName: r.ActorDisplayName}
	return row.notification()
}

// target returns the group a notification may join, and the post and
// comment that group is about; ok is false for a type that is not grouped.
// thread_comment, which the following of posts writes, groups as
// post_comment does.
func (r *groupedRow) target() (t groupTarget, postID, commentID *int64, ok bool) {
	n := &r.Notification
	switch {
	case n.PostID == nil:
		return groupTarget{}, nil, nil, false
	case n.Type == model.NotifyPostComment || n.Type == model.NotifyThreadComment:
		return groupTarget{typ: n.Type, post: *n.PostID}, n.PostID, nil, true
	case n.Type == model.NotifyCommentReply && r.RepliedTo != nil:
		return groupTarget{typ: n.Type, comment: *r.RepliedTo}, n.PostID, r.RepliedTo, true
	case n.Type == model.NotifyLike && n.CommentID != nil:
		return groupTarget{typ: n.Type, comment: *n.CommentID}, n.PostID, n.CommentID, true
	case n.Type == model.NotifyLike:
		return groupTarget{typ: n.Type, post: *n.PostID}, n.PostID, nil, true
	}
	return groupTarget{}, nil, nil, false
}

// ListGrouped returns a page of the signed-in user's notifications in
// groups, newest group first.
//
// Groups form newest first: a notification joins the latest group of its
// type and target when it is within groupSpan of that group's newest, and
// otherwise starts a group. Since a group depends on every newer
// notification of its target, a page is worked out from the newest
// notification down, in one statement that is read only as far as the
// page needs: until limit+1 groups have started and no row left can join
// the page's groups (rows come in id order, and a user's rows are written
// in time order). The cursor holds the newest notification of the walk's
// first page and that of the page's last group, so that later pages group
// the same notifications and start after it. Retention bounds how many
// rows one user has.
// Errors: EUNAUTHENTICATED, EINVALID for a bad limit or cursor.
func (s *Notifications) ListGrouped(ctx context.Context, q ListNotifications) (*NotificationGroupPage, error) {
	// As List, the walk ends at the head, read first.
	l, err := s.startListing(ctx, q, notificationGroupsSort, idKey)
	if err != nil {
		return nil, err
	}
	top, from := l.head.LastID, int64(0)
	if l.after != nil {
		top, from = l.after.Key, l.after.ID
	}
	groups, more, err := s.groups(ctx, l.user.ID, q.UnreadOnly, top, from, l.limit)
	if err != nil {
		return nil, err
	}
	page := &NotificationGroupPage{Page: Page[*NotificationGroup]{Items: groups}, NotificationCounts: l.head.Counts()}
	if more {
		next := encodeCursor(cursor{Sort: notificationGroupsSort, Key: top, ID: groups[len(groups)-1].Latest.ID})
		page.NextCursor = &next
	}
	return page, nil
}

// groups reads userID's notifications with an id up to top (only the
// unread ones when unreadOnly), newest first, and returns the first limit
// groups whose newest has an id below from (0: from the first group), and
// whether more follow.
func (s *Notifications) groups(ctx context.Context, userID int64, unreadOnly bool, top, from int64, limit int) ([]*NotificationGroup, bool, error) {
	q := s.db.WithContext(ctx).Where("n.user_id = ? AND n.id <= ?", userID, top)
	if unreadOnly {
		q = q.Where("n.is_read = ?", false)
	}
	q = withActors(q, "c.parent_id AS replied_to").
		Joins("LEFT JOIN comments AS c ON c.id = n.comment_id AND n.type = ?", model.NotifyCommentReply).
		Order("n.id DESC")
	rows, err := q.Rows()
	if err != nil {
		return nil, false, dbError(err)
	}
	defer func() { _ = rows.Close() }()

	open := map[groupTarget]*NotificationGroup{}
	page := []*NotificationGroup{}
	// stop is the time below which no row can join the page's first limit
	// groups, set once limit+1 have started.
	var stop *time.Time
	for rows.Next() {
		var r groupedRow
		if err := s.db.ScanRows(rows, &r); err != nil {
			return nil, false, dbError(err)
		}
		if stop != nil && r.CreatedAt.Before(*stop) {
			break
		}
		t, postID, commentID, grouped := r.target()
		if g := open[t]; grouped && g != nil && !r.CreatedAt.Before(g.window) {
			g.add(r.notification())
			continue
		}
		g := newGroup(r.notification(), postID, commentID, grouped)
		if grouped {
			open[t] = g
		}
		if from > 0 && g.Latest.ID >= from {
			continue // shown on an earlier page
		}
		page = append(page, g)
		if len(page) == limit+1 {
			stop = windowOf(page[:limit])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, dbError(err)
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

// windowOf returns the time below which no notification still to come can
// join one of groups: the oldest window among them, or, when they are all
// groups of one, a moment after the newest of them, which every row still
// to come is older than.
func windowOf(groups []*NotificationGroup) *time.Time {
	stop := groups[0].Latest.CreatedAt.Add(time.Nanosecond)
	for _, g := range groups {
		if !g.window.IsZero() && g.window.Before(stop) {
			stop = g.window
		}
	}
	return &stop
}

// newGroup starts a group with its newest notification n, about the
// target postID and commentID; a group of one when grouped is false.
func newGroup(n *model.Notification, postID, commentID *int64, grouped bool) *NotificationGroup {
	g := &NotificationGroup{Type: n.Type, PostID: n.PostID, CommentID: n.CommentID, Latest: n, Actors: []*model.Author{}, actors: map[int64]bool{}}
	g.Key = fmt.Sprintf("%s:%d", n.Type, n.ID)
	if grouped {
		g.PostID, g.CommentID = postID, commentID
		g.window = n.CreatedAt.Add(-groupSpan)
		target := fmt.Sprintf("post:%d", *postID)
		if commentID != nil {
			target = fmt.Sprintf("comment:%d", *commentID)
		}
		g.Key = fmt.Sprintf("%s:%s:%d", n.Type, target, n.ID)
	}
	g.add(n)
	return g
}

// add counts n, older than every notification in g so far, into g.
func (g *NotificationGroup) add(n *model.Notification) {
	g.Count++
	if !n.Read {
		g.Unread++
	}
	if len(g.NotificationIDs) < groupIDs {
		g.NotificationIDs = append(g.NotificationIDs, n.ID)
	}
	if n.Actor != nil && !g.actors[n.Actor.ID] && len(g.Actors) < groupActors {
		g.actors[n.Actor.ID] = true
		g.Actors = append(g.Actors, n.Actor)
	}
}
