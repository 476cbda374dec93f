package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Comments creates, lists, edits and deletes comments and replies.
//
// A thread has two levels: top-level comments (RootID nil) and, under each,
// a flat list of replies in id order (RootID the top-level comment, ParentID
// the comment replied to). Counters kept in the same transaction as each
// change: the post's comment_count counts its live comments and replies, a
// top-level comment's reply_count its live replies.
//
// Deletion is soft. A deleted top-level comment that still has live replies
// stays visible as a placeholder (deleted true, empty body, no author), so
// its thread keeps its place; GET of it answers the placeholder too. Any
// other deleted comment is gone: ENOTFOUND. Replies are leaves in this
// model (they have no replies of their own), so a deleted reply is always
// gone. Everything under a deleted post is gone.
type Comments struct {
	db    *gorm.DB
	notes *Notifications
	limit *RateLimiter
}

// NewComments returns the comments service. notes writes the notifications
// of a new comment in its transaction; limit throttles comment creation per
// user (nil: unlimited).
func NewComments(db *gorm.DB, notes *Notifications, limit *RateLimiter) *Comments {
	return &Comments{db: db, notes: notes, limit: limit}
}

// Comment list orders.
const (
	CommentsOld = "old" // oldest first
	CommentsNew = "new" // newest first
	CommentsTop = "top" // most likes first
)

// replyPreviews is how many replies each top-level comment of a thread page
// carries.
const replyPreviews = 3

// CommentInput is a new comment: top-level without ParentID, else a reply to
// that comment.
type CommentInput struct {
	Body     string
	ParentID *int64
}

// CommentQuery selects a page of top-level comments.
type CommentQuery struct {
	Sort   string // CommentsOld (the default), CommentsNew or CommentsTop
	Limit  int    // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor string
}

// visible is the condition on a comments row for it to be shown: live, or a
// top-level placeholder with live replies.
const visible = "(comments.deleted_at IS NULL OR (comments.root_id IS NULL AND comments.reply_count > 0))"

// Create adds a comment by the signed-in user to post postID. In the same
// transaction it moves the counters and writes the notifications, which are
// published after commit. Errors: EUNAUTHENTICATED; EINVALID naming the
// field, also for a parent_id that is not a comment of this post;
// ENOTFOUND for a missing post or a deleted parent; ERATELIMITED.
func (s *Comments) Create(ctx context.Context, postID int64, in CommentInput) (*model.Comment, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	body, err := model.Text("body", in.Body, 1, model.CommentBodyMax)
	if err != nil {
		return nil, err
	}
	if in.ParentID != nil && *in.ParentID <= 0 {
		return nil, model.Errorf(model.EINVALID, "parent_id must be a positive integer")
	}
	if err := allow(s.limit, "user:"+strconv.FormatInt(actor.ID, 10)); err != nil {
		return nil, err
	}
	var c *model.Comment
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		var post model.Post
		if err := lockLivePost(tx, postID, &post); err != nil {
			return err
		}
		// Read after the post lock: every writer of this thread holds it, so
		// the parent cannot be deleted under us.
		var parent *model.Comment
		if in.ParentID != nil {
			var err error
			if parent, err = replyParent(tx, postID, *in.ParentID); err != nil {
				return err
			}
		}
		plan, err := s.notes.planComment(tx, actor, &post, parent, body)
		if err != nil {
			return err
		}
		now := Now()
		c = &model.Comment{PostID: postID, AuthorID: actor.ID, Body: body, CreatedAt: now}
		if parent != nil {
			root := parent.ID
			if parent.RootID != nil {
				root = *parent.RootID
			}
			c.ParentID, c.RootID, c.ReplyToUserID = &parent.ID, &root, &parent.AuthorID
			// The insert's foreign key check would share-lock the root,
			// whose reply_count is updated next; see Posts on locking.
			err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
				Select("id").Take(&model.Comment{}, root).Error
			if err != nil {
				return dbError(err)
			}
		}
		if err := tx.Create(c).Error; err != nil {
			return dbError(err)
		}
		err = tx.Exec("UPDATE posts SET comment_count = comment_count + 1, last_activity_at = ? WHERE id = ?", now, postID).Error
		if err != nil {
			return dbError(err)
		}
		post.CommentCount++
		post.LastActivityAt = now
		if c.RootID != nil {
			if err := bumpCounter(tx, "comments", "reply_count", *c.RootID, 1); err != nil {
				return err
			}
		}
		out, err = s.notes.commentCreated(tx, plan, actor, &post, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notes.Publish(ctx, out)
	// Nobody has liked it yet, and its author is the actor: only reply_to
	// may need a query.
	c.Author = model.AuthorOf(actor)
	if c.ReplyToUserID != nil {
		authors, err := fetchAuthors(s.db.WithContext(ctx), []int64{*c.ReplyToUserID})
		if err != nil {
			return nil, err
		}
		c.ReplyTo = authors[*c.ReplyToUserID]
	}
	return c, nil
}

// replyParent returns comment id as the parent of a new reply on post
// postID. Errors: EINVALID when it is not a comment of that post, ENOTFOUND
// when it is deleted.
func replyParent(tx *gorm.DB, postID, id int64) (*model.Comment, error) {
	var p model.Comment
	err := tx.Take(&p, id).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound), err == nil && p.PostID != postID:
		return nil, model.Errorf(model.EINVALID, "parent_id must be a comment of post %d", postID)
	case err != nil:
		return nil, dbError(err)
	case p.DeletedAt != nil:
		return nil, model.Errorf(model.ENOTFOUND, "comment %d not found", id)
	}
	return &p, nil
}

// Get returns comment id as the signed-in user sees it: live, or a
// placeholder. Errors: ENOTFOUND.
func (s *Comments) Get(ctx context.Context, id int64) (*model.Comment, error) {
	db := s.db.WithContext(ctx)
	c, err := visibleComment(db, id)
	if err != nil {
		return nil, err
	}
	if err := fillComments(db, model.UserFrom(ctx), []*model.Comment{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// visibleComment reads comment id when it is visible and its post is live.
// Errors: ENOTFOUND.
func visibleComment(db *gorm.DB, id int64) (*model.Comment, error) {
	var c model.Comment
	err := db.Joins("JOIN posts ON posts.id = comments.post_id AND posts.deleted_at IS NULL").
		Where("comments.id = ? AND "+visible, id).Take(&c).Error
	if err != nil {
		return nil, notFound(err, "comment %d not found", id)
	}
	return &c, nil
}

// List returns a page of the top-level comments of post postID, each with
// its first replies. Placeholders keep their place. Walks by CommentsOld and
// CommentsNew are exact: every comment that existed when the walk began is
// seen once. CommentsTop sorts by like_count, which changes while a client
// walks; a comment liked past the cursor meanwhile may be missed or seen
// twice, every other one is seen once.
// Errors: ENOTFOUND, EINVALID naming sort, limit or cursor.
func (s *Comments) List(ctx context.Context, postID int64, q CommentQuery) (*Page[*model.Comment], error) {
	if q.Sort == "" {
		q.Sort = CommentsOld
	}
	if q.Sort != CommentsOld && q.Sort != CommentsNew && q.Sort != CommentsTop {
		return nil, model.Errorf(model.EINVALID, "sort must be old, new or top")
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	key := noKey
	if q.Sort == CommentsTop {
		key = countKey
	}
	after, err := decodeCursor(q.Cursor, q.Sort, key)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	if err := db.Select("id").Where("deleted_at IS NULL").Take(&model.Post{}, postID).Error; err != nil {
		return nil, notFound(err, "post %d not found", postID)
	}

	// comments_post_root (post_id, root_id, id) serves old and new,
	// comments_post_root_top (post_id, root_id, like_count, id) serves top.
	query := db.Where("post_id = ? AND root_id IS NULL AND "+visible, postID)
	switch q.Sort {
	case CommentsOld:
		query = query.Order("id")
		if after != nil {
			query = query.Where("id > ?", after.ID)
		}
	case CommentsNew:
		query = query.Order("id DESC")
		if after != nil {
			query = query.Where("id < ?", after.ID)
		}
	case CommentsTop:
		query = query.Order("like_count DESC").Order("id DESC")
		if after != nil {
			query = query.Where(keysetBefore("like_count"), after.Key, after.Key, after.ID)
		}
	}
	var rows []*model.Comment
	if err := query.Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(c *model.Comment) cursor {
		k := cursor{Sort: q.Sort, ID: c.ID}
		if q.Sort == CommentsTop {
			k.Key = c.LikeCount
		}
		return k
	})

	replies, err := firstReplies(db, page.Items)
	if err != nil {
		return nil, err
	}
	all := slices.Clone(page.Items)
	for _, c := range page.Items {
		// Never nil, so that every top-level comment of a list carries
		// "replies", empty or not.
		c.Replies = append([]*model.Comment{}, replies[c.ID]...)
		all = append(all, c.Replies...)
	}
	if err := fillComments(db, model.UserFrom(ctx), all); err != nil {
		return nil, err
	}
	return page, nil
}

// firstReplies returns the first replyPreviews live replies of each of the
// top-level comments, oldest first, by top-level id. It is one query: a
// UNION ALL of one small index range (comments_root) per comment with
// replies, so a thread with thousands of replies costs no more than one
// with three.
//
// SQLite takes a LIMIT in a UNION member only inside a derived table. MySQL
// materialises each derived table into a temporary table, which made this
// query cost MariaDB about 14 ms of CPU for a page of 20 (the thread-read
// load test); there each member is a parenthesised SELECT instead, under
// 1 ms.
func firstReplies(db *gorm.DB, tops []*model.Comment) (map[int64][]*model.Comment, error) {
	first := fmt.Sprintf("SELECT * FROM comments WHERE root_id = ? AND deleted_at IS NULL ORDER BY id LIMIT %d", replyPreviews)
	member := func(i int) string { return fmt.Sprintf("SELECT * FROM (%s) AS r%d", first, i) }
	if db.Dialector.Name() == "mysql" {
		member = func(int) string { return "(" + first + ")" }
	}
	var parts []string
	var args []any
	for _, c := range tops {
		if c.ReplyCount == 0 {
			continue
		}
		parts = append(parts, member(len(parts)))
		args = append(args, c.ID)
	}
	byRoot := make(map[int64][]*model.Comment, len(parts))
	if len(parts) == 0 {
		return byRoot, nil
	}
	var rows []*model.Comment
	if err := db.Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	for _, r := range rows {
		byRoot[*r.RootID] = append(byRoot[*r.RootID], r)
	}
	// UNION ALL promises no order across its parts; within a root the ids
	// must ascend.
	for _, list := range byRoot {
		slices.SortFunc(list, func(a, b *model.Comment) int { return cmp.Compare(a.ID, b.ID) })
	}
	return byRoot, nil
}

// Replies returns a page of the live replies under top-level comment id,
// oldest first; a placeholder's replies are listed too. The walk is exact:
// every reply that existed when it began is seen once.
// Errors: ENOTFOUND; EINVALID when id is a reply, or naming limit or cursor.
func (s *Comments) Replies(ctx context.Context, id int64, limit int, cursorText string) (*Page[*model.Comment], error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(cursorText, CommentsOld, noKey)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	root, err := visibleComment(db, id)
	if err != nil {
		return nil, err
	}
	if root.RootID != nil {
		return nil, model.Errorf(model.EINVALID, "comment %d is a reply; replies are listed under top-level comments", id)
	}
	// comments_root (root_id, id).
	query := db.Where("root_id = ? AND deleted_at IS NULL", id).Order("id")
	if after != nil {
		query = query.Where("id > ?", after.ID)
	}
	var rows []*model.Comment
	if err := query.Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(c *model.Comment) cursor {
		return cursor{Sort: CommentsOld, ID: c.ID}
	})
	if err := fillComments(db, model.UserFrom(ctx), page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

// Update replaces the body of a comment and sets edited_at. Only its author
// may: moderators delete, they do not put words in others' mouths.
// Errors: EINVALID naming body, ENOTFOUND, EPERMISSION.
func (s *Comments) Update(ctx context.Context, id int64, body string) (*model.Comment, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	body, err = model.Text("body", body, 1, model.CommentBodyMax)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	c, err := liveComment(db, id)
	if err != nil {
		return nil, err
	}
	if c.AuthorID != actor.ID {
		return nil, model.Errorf(model.EPERMISSION, "only the author may edit comment %d", id)
	}
	res := db.Model(&model.Comment{}).Where("id = ? AND deleted_at IS NULL", id).
		UpdateColumns(map[string]any{"body": body, "edited_at": Now()})
	if res.Error != nil {
		return nil, dbError(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, model.Errorf(model.ENOTFOUND, "comment %d not found", id)
	}
	return s.Get(ctx, id)
}

// liveComment reads comment id when neither it nor its post is deleted.
// Errors: ENOTFOUND.
func liveComment(db *gorm.DB, id int64) (*model.Comment, error) {
	var c model.Comment
	err := db.Joins("JOIN posts ON posts.id = comments.post_id AND posts.deleted_at IS NULL").
		Where("comments.id = ? AND comments.deleted_at IS NULL", id).Take(&c).Error
	if err != nil {
		return nil, notFound(err, "comment %d not found", id)
	}
	return &c, nil
}

// Delete soft-deletes a comment; its author, moderators and admins may. In
// the same transaction it moves the counters and removes the comment's
// notifications. Errors: ENOTFOUND, EPERMISSION.
func (s *Comments) Delete(ctx context.Context, id int64) error {
	actor, err := signedIn(ctx)
	if err != nil {
		return err
	}
	// A comment never changes post; reading which one first lets the
	// transaction lock the post before the comment, in the order of every
	// other writer of the thread.
	db := s.db.WithContext(ctx)
	c, err := liveComment(db, id)
	if err != nil {
		return err
	}
	if c.AuthorID != actor.ID && !actor.CanModerate() {
		return model.Errorf(model.EPERMISSION, "only the author, a moderator or an admin may delete comment %d", id)
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		var post model.Post
		if err := lockLivePost(tx, c.PostID, &post); err != nil {
			// The post went away since the read above, and the comment
			// with it; any other error is the database's, and a deadlock
			// must reach transact to be retried.
			if model.ErrorCode(err) == model.ENOTFOUND {
				return model.Errorf(model.ENOTFOUND, "comment %d not found", id)
			}
			return err
		}
		res := tx.Model(&model.Comment{}).Where("id = ? AND deleted_at IS NULL", id).
			UpdateColumn("deleted_at", Now())
		if res.Error != nil {
			return dbError(res.Error)
		}
		if res.RowsAffected == 0 {
			// A concurrent delete won.
			return model.Errorf(model.ENOTFOUND, "comment %d not found", id)
		}
		if err := bumpCounter(tx, "posts", "comment_count", c.PostID, -1); err != nil {
			return err
		}
		if c.RootID != nil {
			if err := bumpCounter(tx, "comments", "reply_count", *c.RootID, -1); err != nil {
				return err
			}
		}
		var err error
		out, err = s.notes.commentsDeleted(tx, []int64{id})
		return err
	})
	if err != nil {
		return err
	}
	s.notes.Publish(ctx, out)
	return nil
}

// Like records that the signed-in user likes comment id; liking twice
// changes nothing. Placeholders cannot be liked. Errors: ENOTFOUND.
func (s *Comments) Like(ctx context.Context, id int64) (*model.LikeState, error) {
	return s.setLike(ctx, id, true)
}

// Unlike removes the signed-in user's like of comment id, if any.
// Errors: ENOTFOUND.
func (s *Comments) Unlike(ctx context.Context, id int64) (*model.LikeState, error) {
	return s.setLike(ctx, id, false)
}

func (s *Comments) setLike(ctx context.Context, id int64, like bool) (*model.LikeState, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	var state model.LikeState
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		// The user row first, then the comment, in the order of Posts on
		// locking: the like's insert share-locks both, and a new reply in
		// this thread locks its author's and recipients' rows before the
		// comment it answers. The comment is locked for update before the
		// insert share-locks it, so two likers do not deadlock on the
		// counter. Likes do not lock the post: they never wait in a
		// thread's queue.
		forUpdate := clause.Locking{Strength: clause.LockingStrengthUpdate}
		if err := tx.Clauses(forUpdate).Select("id").Take(&model.User{}, actor.ID).Error; err != nil {
			return dbError(err)
		}
		var c model.Comment
		err := tx.Clauses(forUpdate).Select("id", "post_id", "like_count").Where("deleted_at IS NULL").Take(&c, id).Error
		if err != nil {
			return notFound(err, "comment %d not found", id)
		}
		var live int64
		if err := tx.Model(&model.Post{}).Where("id = ? AND deleted_at IS NULL", c.PostID).Count(&live).Error; err != nil {
			return dbError(err)
		}
		if live == 0 {
			return model.Errorf(model.ENOTFOUND, "comment %d not found", id)
		}
		delta, err := setRow(tx, &model.CommentLike{CommentID: id, UserID: actor.ID, CreatedAt: Now()}, like)
		if err != nil {
			return err
		}
		if err := bumpCounter(tx, "comments", "like_count", id, delta); err != nil {
			return err
		}
		state = model.LikeState{LikeCount: max(c.LikeCount+delta, 0), Liked: like}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &state, nil
}

// fillComments sets the authors, reply_to authors, the viewer's liked flags
// and the placeholder fields of comments: one query for authors and one for
// likes, whatever the number of comments.
func fillComments(db *gorm.DB, viewer *model.User, comments []*model.Comment) error {
	if len(comments) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(comments))
	userIDs := make([]int64, 0, 2*len(comments))
	for _, c := range comments {
		ids = append(ids, c.ID)
		userIDs = append(userIDs, c.AuthorID)
		if c.ReplyToUserID != nil {
			userIDs = append(userIDs, *c.ReplyToUserID)
		}
	}
	authors, err := fetchAuthors(db, userIDs)
	if err != nil {
		return err
	}
	var liked map[int64]bool
	if viewer != nil {
		if liked, err = viewerRows(db, "comment_likes", "comment_id", viewer.ID, ids); err != nil {
			return err
		}
	}
	for _, c := range comments {
		if c.DeletedAt != nil {
			// A placeholder says only that a comment was here.
			c.Deleted, c.Body, c.Author, c.Liked = true, "", nil, false
			continue
		}
		c.Author = authors[c.AuthorID]
		if c.ReplyToUserID != nil {
			c.ReplyTo = authors[*c.ReplyToUserID]
		}
		c.Liked = liked[c.ID]
	}
	return nil
}
