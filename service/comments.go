package service

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/markdown"
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
	likes // Like and Unlike
	db    *gorm.DB
	notes *Notifications
	limit *RateLimiter
	html  bodies     // renders body_html
	gate  *postGate  // two comment transactions per post at a time
	pages *pageCache // first pages of threads, see comments_cache.go; nil: none
}

// NewComments returns the comments service. notes writes the notifications
// of a new comment in its transaction; limit throttles comment creation per
// user (nil: unlimited). Its thread page cache has the default size
// (SetPageCache).
func NewComments(db *gorm.DB, notes *Notifications, limit *RateLimiter) *Comments {
	s := &Comments{db: db, notes: notes, limit: limit, html: newBodies(db), gate: newPostGate(),
		pages: newPageCache(DefaultPageCacheBytes, DefaultPageCacheTTL, time.Now)}
	s.likes = likes{db: db, notes: notes, counter: commentLikes, row: newCommentLike, lock: s.lockToLike}
	return s
}

// CommentInput is a new comment: top-level without ParentID, else a reply to
// that comment.
type CommentInput struct {
	Body     string
	ParentID *int64
	Spoiler  bool
}

// CommentPatch edits a comment; nil fields stay as they are.
type CommentPatch struct {
	Body    *string
	Spoiler *bool
}

// Create adds a comment by the signed-in user to post postID. In the same
// transaction it moves the counters and writes the notifications, which are
// published after commit. Errors: EUNAUTHENTICATED; EINVALID naming the
// field, also for a parent_id that is not a comment of this post;
// ENOTFOUND for a missing post or a deleted parent, or a hidden one the
// user may not see; EPERMISSION for a hidden post or parent that the user
// sees (see writable); ERATELIMITED.
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
	if err := allowUser(s.limit, actor.ID); err != nil {
		return nil, err
	}
	html, mentioned, err := s.html.renderMentions(ctx, body)
	if err != nil {
		return nil, err
	}
	c, out, err := s.create(ctx, actor, postID, in, body, html, mentioned)
	if err != nil {
		return nil, err
	}
	s.notes.publish(ctx, out)
	if out.fanout {
		s.notes.wakeFanout()
	}
	return c, nil
}

// create writes comment c, whose body mentions the users mentioned, and
// its notifications, and publishes its thread event; the caller publishes
// out.
//
// Everything that needs no lock is read before the transaction, in one
// statement (readCommentTarget; the mentions were found when the body was
// rendered): the post and the parent (whose authors never change) to work
// out the recipients, the mute of the one answered, the mentions, and
// whether anyone else watches the post. The transaction, which holds the
// post's lock from its first statement to its commit, then checks the post
// and the parent again and only locks (lockForComment) and writes
// (writeComment): a hot post's comments commit one after another, so every
// round trip in that section is paid once per comment by all of them.
func (s *Comments) create(ctx context.Context, actor *model.User, postID int64, in CommentInput, body, html string, mentioned []int64) (*model.Comment, Outbox, error) {
	t, err := readCommentTarget(s.db.WithContext(ctx), actor, postID, in.ParentID, mentioned)
	if err != nil {
		return nil, Outbox{}, err
	}
	parent, replyTo := t.parent, t.replyTo
	draft := draftComment(actor, t, mentioned)

	// Two comments per post at a time enter their transactions on this
	// instance; postGate explains why.
	leave, err := s.gate.enter(ctx, postID)
	if err != nil {
		return nil, Outbox{}, dbError(err)
	}
	defer leave()
	var c *model.Comment
	var out Outbox
	var prev int64
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		post, plan, err := lockForComment(tx, actor, postID, parent, draft.to)
		if err != nil {
			return err
		}
		now := Now()
		c = &model.Comment{
			PostID: postID, AuthorID: actor.ID, Body: body, BodyHTML: html, BodyHTMLVersion: markdown.Version,
			Spoiler: in.Spoiler, CreatedAt: now,
		}
		if parent != nil {
			root := parent.ID
			if parent.RootID != nil {
				root = *parent.RootID
			}
			c.ParentID, c.RootID, c.ReplyToUserID = &parent.ID, &root, &parent.AuthorID
		}
		// The post's previous comment, read under its lock, orders this one
		// in the live thread (see model.ThreadEvent.PrevCommentID).
		prev = post.LastCommentID
		out, err = s.writeComment(tx, plan, actor, post, c, draft)
		return err
	})
	if err != nil {
		return nil, Outbox{}, err
	}
	c.Author = model.AuthorOf(actor)
	c.ReplyTo = replyTo
	// The post's followers first: the notifications' counts may take a query,
	// and a comment published late makes every instance's feed of the
	// post hold the ones after it.
	s.notes.publishThread(ctx, &model.ThreadEvent{Type: model.ThreadCommentCreated, PostID: postID, Comment: c, PrevCommentID: prev})
	return c, out, nil
}

// Update replaces the body or the spoiler flag of a comment and sets
// edited_at. Only its author may: moderators delete, they do not put words
// in others' mouths. A change of the flag rewrites, in the same
// transaction, the excerpts of the comment's notifications (see
// rewriteExcerpts). Errors: EINVALID naming body, ENOTFOUND, EPERMISSION.
func (s *Comments) Update(ctx context.Context, id int64, in CommentPatch) (*model.Comment, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if in.Body == nil && in.Spoiler == nil {
		return nil, model.Errorf(model.EINVALID, "body or spoiler is required")
	}
	edit, err := newTextEdit("edited_at", in.Body, model.CommentBodyMax, in.Spoiler)
	if err != nil {
		return nil, err
	}
	c, err := commentOfLivePost(s.db.WithContext(ctx), actor, id, commentsLiveTo)
	if err != nil {
		return nil, err
	}
	if c.AuthorID != actor.ID {
		return nil, model.Errorf(model.EPERMISSION, "only the author may edit comment %d", id)
	}
	if err := edit.render(ctx, s.html); err != nil {
		return nil, err
	}
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		locked, err := lockLiveComment(tx, id, c.PostID)
		if err != nil {
			return err
		}
		if err := edit.write(tx, locked, locked.Body, locked.Spoiler, "comment_id = ?", id); err != nil {
			return err
		}
		return threadChanged(tx, c.PostID)
	})
	if err != nil {
		return nil, err
	}
	// A reader who has liked nothing sees the edit live; a hidden comment
	// is not shown to readers, so it is not published (threadView).
	if seen, err := s.view(s.db.WithContext(ctx), id, nil); err == nil {
		s.notes.publishThread(ctx, &model.ThreadEvent{Type: model.ThreadCommentUpdated, PostID: c.PostID, Comment: seen})
	}
	return s.Get(ctx, id)
}

// newCommentLike returns the like of comment id by userID.
func newCommentLike(id, userID int64) any {
	return &model.CommentLike{CommentID: id, UserID: userID, CreatedAt: Now()}
}

// lockToLike locks, for a like (or unlike) of comment id by actor, the
// user rows of actor and, for a like of another's comment, of its author
// (planLike), then the comment, and returns what the like needs of it.
// Placeholders cannot be liked. Errors: ENOTFOUND, EPERMISSION for a
// hidden comment or post (see writable).
//
// The user rows come first, then the comment, in the package's lock order:
// the like's insert share-locks the actor's row and the comment, and a new
// reply in this thread locks its author's and recipients' rows before the
// comment it answers. The comment is locked for update before the insert
// share-locks it, so two likers do not deadlock on the counter. Its author,
// which never changes, is read before the locks. Likes do not lock the
// post: they never wait in a thread's queue.
func (s *Comments) lockToLike(tx *gorm.DB, id int64, actor *model.User, liking bool) (likeTarget, error) {
	var c model.Comment
	if err := tx.Select("id", "author_id", "hidden").Where("deleted_at IS NULL").Take(&c, id).Error; err != nil {
		return likeTarget{}, notFound(err, "comment %d not found", id)
	}
	if !c.VisibleTo(actor) {
		return likeTarget{}, model.Errorf(model.ENOTFOUND, "comment %d not found", id)
	}
	plan, err := s.notes.planLike(tx, actor, c.AuthorID, liking)
	if err != nil {
		return likeTarget{}, err
	}
	forUpdate := clause.Locking{Strength: clause.LockingStrengthUpdate}
	err = tx.Clauses(forUpdate).Select("id", "post_id", "author_id", "body", "like_count", "spoiler", "hidden").
		Where("deleted_at IS NULL").Take(&c, id).Error
	if err != nil {
		return likeTarget{}, notFound(err, "comment %d not found", id)
	}
	var post model.Post
	if err := tx.Select("id", "author_id", "hidden").Where("deleted_at IS NULL").Take(&post, c.PostID).Error; err != nil {
		return likeTarget{}, notFound(err, "comment %d not found", id)
	}
	if !post.VisibleTo(actor) {
		return likeTarget{}, model.Errorf(model.ENOTFOUND, "comment %d not found", id)
	}
	if err := writable(actor, "post", post.ID, post.AuthorID, post.Hidden); err != nil {
		return likeTarget{}, err
	}
	if err := writable(actor, "comment", id, c.AuthorID, c.Hidden); err != nil {
		return likeTarget{}, err
	}
	return likeTarget{
		count: c.LikeCount, plan: plan, notice: &model.CommentLikeNotice{CommentID: id, UserID: actor.ID},
		postID: c.PostID, commentID: &c.ID, excerpt: model.ExcerptOf(c.Body, c.Spoiler),
	}, nil
}
