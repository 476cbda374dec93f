package service

import (
	"database/sql"
	"fmt"
	"slices"
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

// lockForComment locks, inside tx, live post postID, then the rows of
// actor and of the recipients to, then, for a reply, its parent and the
// parent's root, whose reply_count the reply moves (the insert's foreign
// key checks would otherwise share-lock them first; see the package doc):
// the package's lock order. It returns the post (its id, author_id, hidden
// and last_comment_id) and the plan of the recipients who have not blocked
// actor, as lockPlan makes it, and checks the parent again: every writer
// of the thread holds the post's lock, so once read here it cannot be
// deleted or hidden before the commit.
//
// On MySQL it is one statement, a UNION ALL whose members lock in that
// order; the users' and the comments' rows are read, so locked, in the
// order of their primary key's range, ascending by id. Errors: ENOTFOUND
// for a missing or deleted post or parent, or a parent hidden from actor;
// EPERMISSION for a hidden parent that actor sees (writable).
func lockForComment(tx *gorm.DB, actor *model.User, postID int64, parent *model.Comment, to []recipient) (*model.Post, notifyPlan, error) {
	users, args := idList([]any{postID, actor.ID}, append(recipientIDs(to), actor.ID))
	members := []string{
		"SELECT 0, author_id, hidden, last_comment_id, 0, 0 FROM posts WHERE id = ? AND deleted_at IS NULL",
		"SELECT 1, users.id, users.notification_seq, user_blocks.user_id, users.unread_notifications, users.unseen_notifications FROM users " +
			"LEFT JOIN user_blocks ON user_blocks.user_id = users.id AND user_blocks.blocked_id = ? WHERE users.id IN (" + users + ")",
	}
	if parent != nil {
		ids := []int64{parent.ID}
		if parent.RootID != nil {
			ids = append(ids, *parent.RootID)
		}
		var comments string
		comments, args = idList(args, ids)
		members = append(members, "SELECT 2, id, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, hidden, 0, 0 FROM comments WHERE id IN ("+comments+")")
	}
	rows, err := rawRows(tx, lockingUnion(tx, members...), args...)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rows.Close() }()
	var post *model.Post
	locked := make(map[int64]lockedUser, len(to)+1)
	blockers := map[int64]bool{}
	parentLive, parentHidden := false, false
	for rows.Next() {
		var kind, a, b, unread, unseen int64
		var c sql.NullInt64
		if err := rows.Scan(&kind, &a, &b, &c, &unread, &unseen); err != nil {
			return nil, nil, dbError(err)
		}
		switch {
		case kind == 0:
			post = &model.Post{ID: postID, AuthorID: a, Hidden: b != 0, LastCommentID: c.Int64}
		case kind == 1:
			locked[a] = lockedUser{seq: b, counts: model.NotificationCounts{Unread: unread, Unseen: unseen}}
			if c.Valid {
				blockers[a] = true
			}
		case kind == 2 && a == parent.ID:
			parentLive, parentHidden = b == 0, c.Int64 != 0
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err)
	}
	if post == nil {
		return nil, nil, model.Errorf(model.ENOTFOUND, "post %d not found", postID)
	}
	if err := writable(actor, "post", postID, post.AuthorID, post.Hidden); err != nil {
		return nil, nil, err
	}
	if parent != nil {
		if !parentLive {
			return nil, nil, model.Errorf(model.ENOTFOUND, "comment %d not found", parent.ID)
		}
		if err := writable(actor, "comment", parent.ID, parent.AuthorID, parentHidden); err != nil {
			return nil, nil, err
		}
	}
	return post, planOf(to, locked, blockers), nil
}

// writeComment writes, inside tx and under the locks of lockForComment,
// new comment c by actor on post and what moves with it, and sets c.ID:
// the comment; the actor's watch of the post, unless they chose a level
// on it (or have watched it since an earlier comment); the post's
// counters, last comment and thread version (its pages change, see
// comments_cache.go); a reply's root's reply_count; a notification for
// each recipient of plan, with their sequences (Notifications.write); and
// the fan-out's outbox row when someone else watches the post
// (queueFanout). It returns what commentCreated would.
//
// The post's row lock is held from lockForComment to the commit, and a hot
// post's comments wait for it one after another, so each round trip to
// the database in between is paid by every comment queued behind. On
// MySQL the writes go in one round trip (writeBatch); on SQLite, where a
// statement is a call into the same process, one by one (writeEach).
func (s *Comments) writeComment(tx *gorm.DB, plan notifyPlan, actor *model.User, post *model.Post, c *model.Comment, draft commentDraft) (Outbox, error) {
	if onMySQL(tx) {
		return s.writeBatch(tx, plan, actor, post, c, draft)
	}
	return s.writeEach(tx, plan, actor, post, c, draft)
}

// insertCommentSQL inserts a comment (post_id, parent_id, root_id,
// author_id, reply_to_user_id, body, body_html, body_html_version,
// spoiler, hidden, created_at).
const insertCommentSQL = `INSERT INTO comments (post_id, parent_id, root_id, author_id, reply_to_user_id,
	body, body_html, body_html_version, spoiler, hidden, like_count, reply_count, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)`

// commentRef is how a statement of a new comment names the comment's id:
// "?" with the id as its argument (byValue), or writeBatch's session
// variable (inBatch), which only the database knows.
type commentRef struct {
	expr string
	args []any
}

func byValue(id any) commentRef { return commentRef{expr: "?", args: []any{id}} }

// inBatch names the id writeBatch keeps in a session variable.
func inBatch() commentRef { return commentRef{expr: "@discuss_comment"} }

// commentAdded is the statement that moves post c.PostID's counters for
// new comment c: the comment count, the last activity and comment, and
// the thread's version (its pages change, see comments_cache.go).
func commentAdded(c *model.Comment, id commentRef) (string, []any) {
	return `UPDATE posts SET comment_count = comment_count + 1, last_activity_at = ?,
	last_comment_id = ` + id.expr + `, thread_version = thread_version + 1 WHERE id = ?`,
		slices.Concat([]any{c.CreatedAt}, id.args, []any{c.PostID})
}

// commentArgs are insertCommentSQL's arguments for c.
func commentArgs(c *model.Comment) []any {
	return []any{c.PostID, c.ParentID, c.RootID, c.AuthorID, c.ReplyToUserID,
		c.Body, c.BodyHTML, c.BodyHTMLVersion, c.Spoiler, c.Hidden, c.CreatedAt}
}

// writeEach is writeComment one statement at a time.
func (s *Comments) writeEach(tx *gorm.DB, plan notifyPlan, actor *model.User, post *model.Post, c *model.Comment, draft commentDraft) (Outbox, error) {
	id, err := rawInsert(tx, "comments", insertCommentSQL, commentArgs(c)...)
	if err != nil {
		return Outbox{}, err
	}
	c.ID = id
	if !draft.leveled {
		if err := watchImplicitly(tx, c.PostID, actor.ID); err != nil {
			return Outbox{}, err
		}
	}
	query, args := commentAdded(c, byValue(c.ID))
	if _, err := rawExec(tx, query, args...); err != nil {
		return Outbox{}, err
	}
	if c.RootID != nil {
		if err := bumpCounter(tx, commentReplies, *c.RootID, 1); err != nil {
			return Outbox{}, err
		}
	}
	return s.notes.commentCreated(tx, plan, actor, post, c, draft.watched)
}

// writeBatch is writeComment in one round trip, MySQL's multi-statement
// query: the statements of writeEach, the ids the inserts give kept in
// session variables, which the last statement reads back. MySQL stops at
// the first statement that fails and reports its error; the transaction
// is then rolled back with what ran before it.
func (s *Comments) writeBatch(tx *gorm.DB, plan notifyPlan, actor *model.User, post *model.Post, c *model.Comment, draft commentDraft) (Outbox, error) {
	var b batch
	b.add(insertCommentSQL, commentArgs(c))
	b.add("SET "+inBatch().expr+" = LAST_INSERT_ID()", nil)
	if !draft.leveled {
		b.add(watchStatement(tx, c.PostID, actor.ID))
	}
	b.add(commentAdded(c, inBatch()))
	if c.RootID != nil {
		table, column, err := commentReplies.column()
		if err != nil {
			return Outbox{}, err
		}
		b.add(raiseSQL(table, column), []any{1, *c.RootID})
	}
	notes := planned(plan, commentNotice(actor, post, c))
	for i, n := range notes {
		b.add(notificationStatement(n, inBatch()))
		b.add(fmt.Sprintf("SET @discuss_notification%d = LAST_INSERT_ID()", i), nil)
	}
	if len(plan) > 0 {
		b.add(bumpSeqsStatement(tx, plan))
	}
	if draft.watched {
		b.add(outboxStatement(plan, actor, c, inBatch()))
	}
	read := "SELECT " + inBatch().expr
	ids := []any{&c.ID}
	for i, n := range notes {
		read += fmt.Sprintf(", @discuss_notification%d", i)
		ids = append(ids, &n.ID)
	}
	b.add(read, nil)
	if err := scanOne(tx, b.query.String(), b.args, ids...); err != nil {
		return Outbox{}, err
	}
	for _, n := range notes {
		n.CommentID = &c.ID
	}
	return Outbox{notifications: notes, fanout: draft.watched, known: s.notes.knownAfter(plan)}, nil
}
