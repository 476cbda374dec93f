package service

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Hidden content: model.Visible as the conditions of reads, the check of
// writes into hidden content, and the hiding and showing again of a post
// or comment inside a transaction.
//
// Counters count what readers see: posts.comment_count the live comments
// and replies that are not hidden, comments.reply_count the live replies
// that are not hidden. Hiding a comment takes it off them and showing it
// again puts it back, in the same transaction; deleting a hidden comment
// moves them no more. A hidden top-level comment whose replies are live
// stays in lists as a placeholder, as a deleted one does, for those who
// may not see it: its replies are other people's and stay visible.

// shownTo returns the condition on rows of table (posts or comments) that
// leaves out the hidden rows viewer may not see (model.Visible), with its
// arguments; a nil viewer is anyone. It is the SQL twin of model.Visible,
// for every read that lists posts or comments (the live thread's too).
func shownTo(viewer *model.User, table string) (string, []any) {
	switch {
	case viewer.CanModerate():
		return "1 = 1", nil
	case viewer == nil:
		return table + ".hidden = ?", []any{false}
	}
	return "(" + table + ".hidden = ? OR " + table + ".author_id = ?)", []any{false, viewer.ID}
}

// commentsVisibleTo is the condition on comments rows that viewer is shown
// in a thread: live ones that viewer may see, and top-level placeholders
// of deleted or hidden comments with live replies.
func commentsVisibleTo(viewer *model.User) (string, []any) {
	shown, args := shownTo(viewer, "comments")
	return "((comments.deleted_at IS NULL AND " + shown + ") OR (comments.root_id IS NULL AND comments.reply_count > 0))", args
}

// commentsLiveTo is the condition on comments rows that viewer may edit,
// delete or reply to: live ones that viewer may see.
func commentsLiveTo(viewer *model.User) (string, []any) {
	shown, args := shownTo(viewer, "comments")
	return "comments.deleted_at IS NULL AND " + shown, args
}

// writable returns nil when actor may add to a post or comment (what and
// id name it): comment on it, reply to it, like it, report it. Hidden
// content takes nothing new, so that it notifies nobody while it is held.
// Errors: ENOTFOUND when actor may not see it, EPERMISSION when actor sees
// it but it is hidden.
func writable(actor *model.User, what string, id, authorID int64, hidden bool) error {
	if !model.Visible(actor, authorID, hidden) {
		return model.Errorf(model.ENOTFOUND, "%s %d not found", what, id)
	}
	if hidden {
		return model.Errorf(model.EPERMISSION, "%s %d is hidden pending review", what, id)
	}
	return nil
}

// target is a reported post, or a reported comment and its post, read
// under their locks (lockTarget), deleted or not.
type target struct {
	post    model.Post
	comment *model.Comment // nil when the target is the post
}

// lockPostOf locks, inside tx, post postID of the target typ id, deleted
// or not: the first lock of lockTarget's order, for callers that act on a
// deleted target too. Errors: ENOTFOUND naming the target.
func lockPostOf(tx *gorm.DB, typ string, id, postID int64) (*model.Post, error) {
	var post model.Post
	err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Take(&post, postID).Error
	if err != nil {
		return nil, notFound(err, "%s %d not found", typ, id)
	}
	return &post, nil
}

// lockTarget takes, inside tx and after post, which the caller has locked
// (lockPostOf, lockLivePost), the rows of users (whose rows the caller's
// inserts would otherwise share-lock through their foreign keys, out of
// order), then, for a comment target (typ model.TargetComment), comment id
// of that post: the package's lock order. It returns them whether deleted
// or not. Errors: ENOTFOUND naming the target.
func lockTarget(tx *gorm.DB, post *model.Post, typ string, id int64, users ...int64) (*target, error) {
	t := &target{post: *post}
	if len(users) > 0 {
		if _, err := lockUsers(tx, users); err != nil {
			return nil, err
		}
	}
	if typ == model.TargetPost {
		return t, nil
	}
	t.comment = &model.Comment{}
	err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Where("post_id = ?", post.ID).Take(t.comment, id).Error
	if err != nil {
		return nil, notFound(err, "%s %d not found", typ, id)
	}
	return t, nil
}

// typ, id, authorID, hidden and deleted describe the target itself.
func (t *target) typ() string {
	if t.comment != nil {
		return model.TargetComment
	}
	return model.TargetPost
}

func (t *target) id() int64 {
	if t.comment != nil {
		return t.comment.ID
	}
	return t.post.ID
}

func (t *target) authorID() int64 {
	if t.comment != nil {
		return t.comment.AuthorID
	}
	return t.post.AuthorID
}

func (t *target) hidden() bool {
	if t.comment != nil {
		return t.comment.Hidden
	}
	return t.post.Hidden
}

// deleted reports whether the target, or the post it is in, is deleted.
func (t *target) deleted() bool {
	return t.post.DeletedAt != nil || (t.comment != nil && t.comment.DeletedAt != nil)
}

// setHidden hides (hidden true) or shows again the live target t, locked
// by lockTarget, inside tx, moving the counters it counts in. Hiding
// withdraws the notifications that point into it, as deleting does (for
// a post, every notification of its thread): the users who lose unread
// ones hear their new count from the returned Outbox after commit. Showing
// it again writes no notification: what was withdrawn stays withdrawn.
func (s *Notifications) setHidden(tx *gorm.DB, t *target, hidden bool) (Outbox, error) {
	if t.hidden() == hidden || t.deleted() {
		return Outbox{}, nil
	}
	// Who sees what changes in the post's pages (comments_cache.go).
	if err := threadChanged(tx, t.post.ID); err != nil {
		return Outbox{}, err
	}
	if t.comment == nil {
		if err := tx.Model(&t.post).UpdateColumn("hidden", hidden).Error; err != nil {
			return Outbox{}, dbError(err)
		}
		t.post.Hidden = hidden
		if !hidden {
			return Outbox{}, nil
		}
		out, err := s.postDeleted(tx, t.post.ID)
		if err == nil {
			out.threads = append(out.threads, postGone(t.post.ID))
		}
		return out, err
	}
	c := t.comment
	if err := tx.Model(c).UpdateColumn("hidden", hidden).Error; err != nil {
		return Outbox{}, dbError(err)
	}
	c.Hidden = hidden
	delta := int64(1)
	if hidden {
		delta = -1
	}
	if err := moveCommentCounters(tx, c, delta); err != nil {
		return Outbox{}, err
	}
	if !hidden {
		return Outbox{}, nil
	}
	out, err := s.commentsDeleted(tx, []int64{c.ID})
	if err == nil {
		out.threads = append(out.threads, commentGone(c))
	}
	return out, err
}

// moveCommentCounters adds delta to the counters that count comment c, as
// readers see it: its post's comment_count and, for a reply, its root's
// reply_count. Hiding, showing again and deleting move them; see the top
// of this file for what they count.
func moveCommentCounters(tx *gorm.DB, c *model.Comment, delta int64) error {
	if err := bumpCounter(tx, postComments, c.PostID, delta); err != nil {
		return err
	}
	if c.RootID == nil {
		return nil
	}
	return bumpCounter(tx, commentReplies, *c.RootID, delta)
}
