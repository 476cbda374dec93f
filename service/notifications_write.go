package service

import (
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Writing: the notification rows of a change, inserted or removed inside the
// change's transaction, and the Outbox that notifications_publish.go sends
// after commit.

// deleteChunk bounds the IN lists of deletions by comment id.
const deleteChunk = 500

// Outbox is what a transaction wrote that clients must hear of once it
// commits. The caller publishes it after commit (see publish) and drops it
// on rollback.
type Outbox struct {
	notifications []*model.Notification
	// recounts are users whose unread count changed without a new
	// notification (some of theirs were removed).
	recounts []int64
	// fanout says that an outbox row for the fan-out was written, so this
	// instance's worker is woken at once.
	fanout bool
	// threads are live-thread events of the change that ends something
	// readers saw (a post or comment deleted or hidden), published first.
	threads []*model.ThreadEvent
	// known are the counts the notifications' users will have once the
	// transaction commits, by user, as far as it knows them (knownAfter);
	// publish counts the others.
	known map[int64]knownCounts
}

// postCreated writes, inside tx, the mention notifications of a new post,
// to the recipients planPost found.
func (s *Notifications) postCreated(tx *gorm.DB, plan notifyPlan, actor *model.User, p *model.Post) (Outbox, error) {
	actorID, postID := actor.ID, p.ID
	return s.write(tx, plan, func(userID int64, typ string) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: typ, ActorID: &actorID, PostID: &postID,
			Excerpt: model.ExcerptOf(p.Body, p.Spoiler), Actor: model.AuthorOf(actor),
		}
	})
}

// commentCreated writes, inside tx, the notifications that the new comment c
// on post causes, to the recipients of plan, and, when the post is watched
// by others (see commentDraft), the outbox row from which they are told
// (see queueFanout).
func (s *Notifications) commentCreated(tx *gorm.DB, plan notifyPlan, actor *model.User, post *model.Post, c *model.Comment, watched bool) (Outbox, error) {
	out, err := s.write(tx, plan, commentNotice(actor, post, c))
	if err != nil {
		return Outbox{}, err
	}
	if watched {
		out.fanout = true
		err = s.queueFanout(tx, plan, actor, c)
	}
	return out, err
}

// commentNotice makes the notifications of new comment c by actor on post;
// their comment_id is c.ID as it is when it is called.
func commentNotice(actor *model.User, post *model.Post, c *model.Comment) func(userID int64, typ string) *model.Notification {
	actorID, postID, commentID := actor.ID, post.ID, c.ID
	return func(userID int64, typ string) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: typ, ActorID: &actorID, PostID: &postID, CommentID: &commentID,
			Excerpt: model.ExcerptOf(c.Body, c.Spoiler), Actor: model.AuthorOf(actor),
		}
	}
}

// commentsDeleted removes, inside tx, the notifications of the deleted
// comments, so they leave every list and unread count. The users who lose
// unread ones hear their new count after commit.
func (s *Notifications) commentsDeleted(tx *gorm.DB, commentIDs []int64) (Outbox, error) {
	var out Outbox
	for chunk := range slices.Chunk(commentIDs, deleteChunk) {
		if err := removeFanout(tx, "comment_id IN ?", chunk); err != nil {
			return Outbox{}, err
		}
		users, _, err := removeWhere(tx, "comment_id IN ?", chunk)
		if err != nil {
			return Outbox{}, err
		}
		out.recounts = append(out.recounts, users...)
	}
	return out, nil
}

// postDeleted removes, inside tx, every notification that points into a
// deleted post: the mentions of its body and those of its comments, which
// would otherwise lead their readers to a 404.
func (s *Notifications) postDeleted(tx *gorm.DB, postID int64) (Outbox, error) {
	if err := removeFanout(tx, "post_id = ?", postID); err != nil {
		return Outbox{}, err
	}
	users, _, err := removeWhere(tx, "post_id = ?", postID)
	if err != nil {
		return Outbox{}, err
	}
	return Outbox{recounts: users}, nil
}

// write inserts, inside tx, one notification per recipient of plan, made
// by build, and gives each the next number of its user's sequence.
//
// The plan holds the recipients' user rows locked since the start of the
// transaction, and that lock is what lets a client resume from the largest
// id it has seen: ids are allocated at insert time but become visible at
// commit, so without it two transactions notifying the same user could
// commit out of id order, and a client that saw the larger id first would
// skip the smaller one forever. Holding the user's row from before the
// insert until commit means a second writer for that user allocates its id
// and its seq only after the first has committed, so one user's
// notifications commit in id order and in seq order, with no seq skipped.
// (A read may still see them otherwise for a moment: MariaDB can leave out
// of a read's snapshot a transaction that commits while it is taken, yet
// include the next one; the hub reads with that in mind.) SQLite takes a database-wide write lock at BEGIN (see OpenDB), which
// orders writers already; its dialect drops FOR UPDATE.
//
// Rows are inserted one at a time, by a statement written out (see
// sqlraw.go): MySQL reports only the first id of a multi-row insert, and with innodb_autoinc_lock_mode=2 (MySQL 8's
// default) the others need not follow it. A plan names each user once, so
// one statement moves every recipient's sequence on by one.
//
// On MySQL that statement rides in front of the last insert, in one
// multi-statement query (see OpenDB): each round trip between the lock and
// the commit keeps the recipients locked, and their notifications
// unpushed, that much longer. The query's id is its last statement's, the
// insert's, and the query runs through GORM's create callbacks as every
// insert of a notification does (rawInsert).
func (s *Notifications) write(tx *gorm.DB, to notifyPlan, build func(userID int64, typ string) *model.Notification) (Outbox, error) {
	if len(to) == 0 {
		return Outbox{}, nil
	}
	out := Outbox{notifications: planned(to, build), known: s.knownAfter(to)}
	batched := onMySQL(tx)
	for i, n := range out.notifications {
		query, args := notificationStatement(n, byValue(n.CommentID))
		if batched && i == len(out.notifications)-1 {
			var b batch
			b.add(bumpSeqsStatement(tx, to))
			b.add(query, args)
			query, args = b.query.String(), b.args
		}
		id, err := rawInsert(tx, "notifications", query, args...)
		if err != nil {
			return Outbox{}, err
		}
		n.ID = id
	}
	if batched {
		return out, nil
	}
	return out, bumpSeqs(tx, to)
}

// insertNotifications begins an insert of notifications rows, the values
// of each in notificationStatement's order.
const insertNotifications = `INSERT INTO notifications
	(user_id, seq, type, actor_id, post_id, comment_id, excerpt, is_read, created_at) VALUES `

// notificationStatement inserts notification n, whose comment_id is named
// by comment.
func notificationStatement(n *model.Notification, comment commentRef) (string, []any) {
	return insertNotifications + `(?, ?, ?, ?, ?, ` + comment.expr + `, ?, ?, ?)`,
		slices.Concat([]any{n.UserID, n.Seq, n.Type, n.ActorID, n.PostID}, comment.args, []any{n.Excerpt, n.Read, n.CreatedAt})
}

// planned returns the notifications of the recipients of plan made by
// build, created now, each with the next number of its user's sequence.
func planned(to notifyPlan, build func(userID int64, typ string) *model.Notification) []*model.Notification {
	now := Now()
	notes := make([]*model.Notification, len(to))
	for i, r := range to {
		n := build(r.userID, r.typ)
		n.CreatedAt, n.Seq = now, r.seq+1
		notes[i] = n
	}
	return notes
}

// writeThreadComments inserts, inside tx, the thread_comment notifications
// of comment commentID to the recipients of plan, made by build, as write
// does but in one statement, written out rather than built by GORM from
// the structs: a fan-out batch writes a thousand. MySQL does not say which
// ids a multi-row insert gave (see write), so they are read back through
// the unique key of thread_comment rows, still inside tx and under the
// recipients' locks, which is all the order of ids needs.
//
// The recipients' rows stay locked from lockNotified to the commit, and a
// comment that notifies one of them waits meanwhile, so on MySQL the
// insert, the sequences' move (bumpSeqs) and the read of the ids go in one
// multi-statement query, as a comment's writes do (Comments.writeBatch);
// on SQLite one by one.
func (s *Notifications) writeThreadComments(tx *gorm.DB, to notifyPlan, commentID int64, build func(userID int64) *model.Notification) (Outbox, error) {
	if len(to) == 0 {
		return Outbox{}, nil
	}
	rows := planned(to, func(userID int64, _ string) *model.Notification { return build(userID) })
	var values strings.Builder
	args := make([]any, 0, 9*len(to))
	for i, n := range rows {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, n.UserID, n.Seq, n.Type, *n.ActorID, *n.PostID, *n.CommentID, n.Excerpt, false, n.CreatedAt)
	}
	insert := insertNotifications + values.String()
	users, userArgs := idList(nil, recipientIDs(to))
	bump := bumpSeqsSQL(tx, users)
	readIDs := "SELECT id, user_id FROM notifications WHERE thread_comment_id = ? AND user_id IN (" + users + ")"
	readArgs := slices.Concat([]any{commentID}, userArgs)
	var ids map[int64]int64
	var err error
	if onMySQL(tx) {
		var b batch
		b.add(insert, args)
		b.add(bump, userArgs)
		b.add(readIDs, readArgs)
		ids, err = readUserIDs(tx, b.query.String(), b.args)
	} else {
		if _, err = rawExec(tx, insert, args...); err == nil {
			if ids, err = readUserIDs(tx, readIDs, readArgs); err == nil {
				_, err = rawExec(tx, bump, userArgs...)
			}
		}
	}
	if err != nil {
		return Outbox{}, err
	}
	for _, n := range rows {
		n.ID = ids[n.UserID]
	}
	return Outbox{notifications: rows}, nil
}

// readUserIDs runs query, whose (last) result has the columns id and
// user_id, and returns the ids by user id.
func readUserIDs(tx *gorm.DB, query string, args []any) (map[int64]int64, error) {
	rows, err := rawRows(tx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	ids := map[int64]int64{}
	for rows.Next() {
		var id, userID int64
		if err := rows.Scan(&id, &userID); err != nil {
			return nil, dbError(err)
		}
		ids[userID] = id
	}
	return ids, dbError(rows.Err())
}

// bumpSeqs moves on by one the sequence of every recipient of a plan, each
// of whom has just been given the next number (a plan names each user
// once), and adds the new notification to their unread and unseen counts
// (notifications_counts.go).
//
// The rows are locked already, and the update must lock nothing more. On
// MySQL it names the primary key: left to itself, MariaDB scanned a small
// users table for the IN list and took next-key locks on rows it had not
// locked, which deadlocked the fan-out worker against comments on its post.
// SQLite has no row locks to take.
func bumpSeqs(tx *gorm.DB, to notifyPlan) error {
	query, args := bumpSeqsStatement(tx, to)
	_, err := rawExec(tx, query, args...)
	return err
}

// bumpSeqsStatement is bumpSeqs's statement for the recipients of to, with
// its arguments.
func bumpSeqsStatement(tx *gorm.DB, to notifyPlan) (string, []any) {
	users, args := idList(make([]any, 0, len(to)), recipientIDs(to))
	return bumpSeqsSQL(tx, users), args
}

// bumpSeqsSQL is bumpSeqs's statement for the users of the list users
// ("?, ?, ...").
func bumpSeqsSQL(tx *gorm.DB, users string) string {
	return `UPDATE ` + usersByKey(tx) + ` SET notification_seq = notification_seq + 1,
		unread_notifications = unread_notifications + 1, unseen_notifications = unseen_notifications + 1
		WHERE id IN (` + users + `)`
}

// usersByKey is the users table for an UPDATE of rows named by id that the
// transaction has locked, which must lock nothing more (see bumpSeqs).
func usersByKey(tx *gorm.DB) string {
	if tx.Dialector.Name() == "mysql" {
		return "users FORCE INDEX (PRIMARY)"
	}
	return "users"
}

// lockedUser is what a transaction that notifies a user reads of the
// user's row with its lock: nothing else changes them until it commits.
type lockedUser struct {
	seq    int64                    // notification_seq
	counts model.NotificationCounts // unread and unseen
}

// lockedColumns are lockedUser's columns of the users row, in its order.
const lockedColumns = `users.notification_seq, users.unread_notifications, users.unseen_notifications`

// lockUsers takes the write locks of the given users' rows, ascending by id
// (see write). It returns what it read of each user that exists.
func lockUsers(tx *gorm.DB, ids []int64) (map[int64]lockedUser, error) {
	locked, _, err := lockNotified(tx, 0, ids)
	return locked, err
}

// lockNotified locks, inside tx, the rows of the users ids, ascending by id
// (see write), and, for an actorID other than 0, reads in the same
// statement which of them have blocked actorID: the block rows are read by
// a locking read, which sees every committed row whatever the
// transaction's snapshot (see lockPlan). It returns what it read of each
// user that exists, and the blockers.
func lockNotified(tx *gorm.DB, actorID int64, ids []int64) (map[int64]lockedUser, map[int64]bool, error) {
	var rows []struct {
		ID                  int64
		NotificationSeq     int64
		UnreadNotifications int64
		UnseenNotifications int64
		Blocker             *int64
	}
	q := tx.Table("users").Select("users.id, " + lockedColumns)
	if actorID != 0 {
		q = q.Select("users.id, "+lockedColumns+", user_blocks.user_id AS blocker").
			Joins("LEFT JOIN user_blocks ON user_blocks.user_id = users.id AND user_blocks.blocked_id = ?", actorID)
	}
	err := q.Where("users.id IN ?", ids).Order("users.id").
		Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Scan(&rows).Error
	if err != nil {
		return nil, nil, dbError(err)
	}
	locked := make(map[int64]lockedUser, len(rows))
	blockers := map[int64]bool{}
	for _, r := range rows {
		locked[r.ID] = lockedUser{seq: r.NotificationSeq,
			counts: model.NotificationCounts{Unread: r.UnreadNotifications, Unseen: r.UnseenNotifications}}
		if r.Blocker != nil {
			blockers[r.ID] = true
		}
	}
	return locked, blockers, nil
}
