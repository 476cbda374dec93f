package service

import (
	"context"

	"github.com/quizsite/discuss/model"
)

// The live thread: the services tell the pages that follow a post about
// each change to its discussion, after commit (publishThread), and the hub
// reads back through the NotificationStore what a page resuming from a
// comment id, or a hub missing a comment's predecessor, has not had
// (ThreadHead, ThreadComments). Neither is durable: a page that misses an
// event resumes by comment id or reloads over REST.

// publishThread tells the pages following e.PostID about e, after the
// commit that made the change; a failure is logged, never returned. Every
// live-thread event leaves the services here, and every post and comment
// the hub reads back passes threadPost and threadComment: together they are
// the one place that decides what a reader of a post may see live (content
// withheld from readers must be withheld in all three).
func (s *notificationCore) publishThread(ctx context.Context, e *model.ThreadEvent) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.pub.PublishThread(ctx, e); err != nil {
		s.log.WarnContext(ctx, "live thread: publish", "type", e.Type, "post_id", e.PostID, "error", err.Error())
	}
}

// threadPost and threadComment are the conditions of the hub's reads of a
// thread, on posts and on comments (as "comments"): what REST shows to a
// reader who is neither the author nor a moderator (no hidden content).
func threadPost() (string, []any) {
	shown, args := shownTo(nil, "posts")
	return "posts.deleted_at IS NULL AND " + shown, args
}

func threadComment() (string, []any) { return commentsVisibleTo(nil) }

// ThreadHead returns the id of the newest comment or reply of post postID,
// deleted or not (0 when it has none), read in one statement. Everything up
// to it committed before this read returned, so a later read of the post's
// comments up to it holds all of them. Errors: ENOTFOUND when the post is
// missing, deleted or hidden.
func (s *NotificationStore) ThreadHead(ctx context.Context, postID int64) (int64, error) {
	var head int64
	cond, args := threadPost()
	err := s.db.WithContext(ctx).Raw("SELECT last_comment_id FROM posts WHERE id = ? AND "+cond, append([]any{postID}, args...)...).Row().Scan(&head)
	if err != nil {
		return 0, notFound(err, "post %d not found", postID)
	}
	return head, nil
}

// ThreadComments returns the comments and replies of post postID with
// afterID < id <= upToID that a reader sees, oldest first, at most limit,
// as REST shows them to a reader who has liked nothing: placeholders of
// deleted comments with replies included. Errors: EINVALID for a limit
// below 1.
func (s *NotificationStore) ThreadComments(ctx context.Context, postID, afterID, upToID int64, limit int) ([]*model.Comment, error) {
	if limit <= 0 {
		return nil, model.Errorf(model.EINVALID, "limit must be positive")
	}
	db := s.db.WithContext(ctx)
	// comments_post_id (post_id, id).
	cond, args := threadComment()
	list, err := findComments(db.Where("post_id = ? AND id > ? AND id <= ?", postID, afterID, upToID).Where(cond, args...).
		Order("id").Limit(limit))
	if err != nil {
		return nil, err
	}
	if err := fillComments(db, nil, list); err != nil {
		return nil, err
	}
	return list, nil
}
