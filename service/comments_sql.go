package service

import (
	"database/sql"
	"strings"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// The statements of a new comment, written out and scanned by hand: a hot
// post's comments commit one after another, and GORM's building and
// reflective scanning of them cost the server more CPU than MariaDB spent
// answering them.

// commentTarget is what a new comment needs to know before its
// transaction, read in one statement by readCommentTarget.
type commentTarget struct {
	post *model.Post // its id, author_id and hidden
	// parent is the comment replied to (its id, post_id, root_id,
	// author_id and hidden), nil for a top-level comment; replyTo is its
	// author.
	parent  *model.Comment
	replyTo *model.Author
	// targetMuted says that the user the comment answers (the post's
	// author, or the parent's) muted the post.
	targetMuted bool
	// leveled and watched are as in commentDraft.
	leveled, watched bool
}

// commentTargetSQL is readCommentTarget's statement; %s is where the users
// a body mentions join the users whom the fan-out does not tell. The
// parent is looked up by id even for a top-level comment (id 0, which
// finds nothing): one text for both. The user a comment answers is the
// parent's author, or without a parent the post's.
const commentTargetSQL = `SELECT p.author_id, p.hidden,
	c.post_id, c.root_id, c.author_id, c.hidden, c.deleted_at IS NOT NULL, a.username, a.display_name,
	EXISTS (SELECT 1 FROM post_subscriptions s
		WHERE s.post_id = p.id AND s.user_id = COALESCE(c.author_id, p.author_id) AND s.level = ?),
	EXISTS (SELECT 1 FROM post_subscriptions s WHERE s.post_id = p.id AND s.user_id = ?),
	EXISTS (SELECT 1 FROM post_subscriptions s
		WHERE s.post_id = p.id AND s.level = ? AND s.user_id NOT IN (?, COALESCE(c.author_id, p.author_id)%s))
FROM posts p LEFT JOIN comments c ON c.id = ? LEFT JOIN users a ON a.id = c.author_id
WHERE p.id = ? AND p.deleted_at IS NULL`

// readCommentTarget reads, in one statement and without locks, what a new
// comment by actor on post postID, replying to parentID (nil for a
// top-level comment) and mentioning the users mentioned, needs before its
// transaction: the post and the parent, the parent's author, whether the
// user it answers muted the post, whether actor has a level on it, and
// whether anyone else watches it, that is someone the fan-out would tell
// (neither the actor nor a user the comment notifies directly; a user who
// muted the post watches nothing). Errors: ENOTFOUND for a missing post,
// or a deleted parent, or one of them hidden from actor; EPERMISSION for
// a hidden one actor sees (writable); EINVALID naming parent_id when it is
// not a comment of the post.
func readCommentTarget(db *gorm.DB, actor *model.User, postID int64, parentID *int64, mentioned []int64) (*commentTarget, error) {
	var wanted int64
	if parentID != nil {
		wanted = *parentID
	}
	args := make([]any, 0, 7+len(mentioned))
	args = append(args, model.LevelMuted, actor.ID, model.LevelWatching, actor.ID)
	for _, id := range mentioned {
		args = append(args, id)
	}
	args = append(args, wanted, postID)
	query := strings.Replace(commentTargetSQL, "%s", strings.Repeat(", ?", len(mentioned)), 1)
	t := &commentTarget{post: &model.Post{ID: postID}}
	var (
		parentPost, root, parentAuthor sql.NullInt64
		parentHidden                   sql.NullBool
		parentDeleted                  bool
		username, displayName          sql.NullString
	)
	err := scanOne(db, query, args, &t.post.AuthorID, &t.post.Hidden,
		&parentPost, &root, &parentAuthor, &parentHidden, &parentDeleted, &username, &displayName,
		&t.targetMuted, &t.leveled, &t.watched)
	if err != nil {
		return nil, notFound(err, "post %d not found", postID)
	}
	if !t.post.VisibleTo(actor) {
		return nil, model.Errorf(model.ENOTFOUND, "post %d not found", postID)
	}
	if err := writable(actor, "post", postID, t.post.AuthorID, t.post.Hidden); err != nil {
		return nil, err
	}
	if parentID == nil {
		return t, nil
	}
	switch {
	case !parentPost.Valid || parentPost.Int64 != postID:
		return nil, model.Errorf(model.EINVALID, "parent_id must be a comment of post %d", postID)
	case parentDeleted:
		return nil, model.Errorf(model.ENOTFOUND, "comment %d not found", wanted)
	}
	t.parent = &model.Comment{ID: wanted, PostID: postID, AuthorID: parentAuthor.Int64, Hidden: parentHidden.Bool}
	if root.Valid {
		t.parent.RootID = &root.Int64
	}
	if err := writable(actor, "comment", wanted, t.parent.AuthorID, t.parent.Hidden); err != nil {
		return nil, err
	}
	t.replyTo = &model.Author{ID: parentAuthor.Int64, Username: username.String, DisplayName: displayName.String}
	return t, nil
}
