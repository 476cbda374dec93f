package service

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Limits of the notification calls.
const (
	// MaxMarkIDs is how many ids one mark-read call may name.
	MaxMarkIDs = 1000
	// publishTimeout bounds the publishing of one transaction's outbox,
	// which runs after the request's own work is done.
	publishTimeout = 5 * time.Second
	// deleteChunk bounds the IN lists of deletions by comment id.
	deleteChunk = 500
	// lookupChunk bounds the IN lists of lookups by user id.
	lookupChunk = 500
	// publishStripes is how many locks serialise publishing per user; see
	// Notifications.stripes.
	publishStripes = 64
)

// Notifications writes notifications in the transactions of the changes
// that cause them, lists them and marks them read.
//
// Unread counts are not stored: every count is a COUNT over the rows, cheap
// through the (user_id, is_read, id) index, so it is exact whatever runs
// concurrently and cannot drift from the rows.
type Notifications struct {
	db  *gorm.DB
	pub Publisher
	log *slog.Logger

	// retentionBatch is how many rows one retention statement deletes.
	retentionBatch int

	// stripes serialise, per user, "count unread, then publish" on this
	// instance. Without them a count taken earlier could be published after
	// one taken later, and the user's badge would stay wrong until the next
	// change; with them the last count published for a user is always one
	// taken after every change that was published before it.
	stripes [publishStripes]sync.Mutex
}

// NewNotifications returns the notifications service; pub is told about
// every change after it commits. Publish failures are discarded until
// WithLogger gives a logger.
func NewNotifications(db *gorm.DB, pub Publisher) *Notifications {
	if pub == nil {
		pub = NopPublisher{}
	}
	return &Notifications{db: db, pub: pub, log: slog.New(slog.DiscardHandler), retentionBatch: 1000}
}

// WithLogger makes s log publish and retention failures to logger, and
// returns s. Call it while wiring, before s is used.
func (s *Notifications) WithLogger(logger *slog.Logger) *Notifications {
	if logger != nil {
		s.log = logger
	}
	return s
}

// Outbox is what a transaction wrote that clients must hear of once it
// commits. The caller passes it to Notifications.Publish after commit and
// drops it on rollback.
type Outbox struct {
	notifications []*model.Notification
	// recounts are users whose unread count changed without a new
	// notification (some of theirs were removed).
	recounts []int64
}

// postCreated writes, inside tx, the mention notifications of a new post,
// to the recipients planPost found.
func (s *Notifications) postCreated(tx *gorm.DB, plan notifyPlan, actor *model.User, p *model.Post) (Outbox, error) {
	actorID, postID := actor.ID, p.ID
	return s.write(tx, plan, func(userID int64, typ string) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: typ, ActorID: &actorID, PostID: &postID,
			Excerpt: model.Excerpt(p.Body), Actor: model.AuthorOf(actor),
		}
	})
}

// commentCreated writes, inside tx, the notifications that the new comment c
// on post causes, to the recipients planComment found.
func (s *Notifications) commentCreated(tx *gorm.DB, plan notifyPlan, actor *model.User, post *model.Post, c *model.Comment) (Outbox, error) {
	actorID, postID, commentID := actor.ID, post.ID, c.ID
	return s.write(tx, plan, func(userID int64, typ string) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: typ, ActorID: &actorID, PostID: &postID, CommentID: &commentID,
			Excerpt: model.Excerpt(c.Body), Actor: model.AuthorOf(actor),
		}
	})
}

// notifyPlan is who a new post or comment notifies and how, one type per
// user in user id order. planPost and planComment work it out at the start
// of the transaction, before the post or comment row is inserted, and lock
// the user rows of the actor and of every recipient, in id order; the
// matching postCreated or commentCreated then writes the rows to it.
//
// Taking those locks first, all at once, is what makes the writers
// deadlock-free: the insert share-locks the actor's row through its author
// foreign key, and a transaction holding that share lock while it waits
// for a recipient's row closes a cycle with one that notifies the actor.
// With every user lock of a transaction taken in one global order before
// any share lock on users, no such cycle can form. (Without it, a stress
// test of ten users notifying each other saw a quarter of the transactions
// chosen as deadlock victims.) The locks also order each user's
// notifications; see write.
type notifyPlan []recipient

// planPost works out and locks, inside tx, who a new post with body by
// actor notifies: the users it mentions.
func (s *Notifications) planPost(tx *gorm.DB, actor *model.User, body string) (notifyPlan, error) {
	to, err := postRecipients(tx, actor, body)
	if err != nil {
		return nil, err
	}
	return lockPlan(tx, actor, to)
}

// planComment works out and locks, inside tx, who a new comment with body
// by actor on post, replying to parent (nil for a top-level comment),
// notifies.
//
// Each user gets at most one notification for it, by priority comment_reply
// > mention > post_comment, and the actor none. A user who muted the post
// gets no post_comment or comment_reply from it, but is still told of a
// mention: the mute is applied before the priority, so a muted parent
// author who is also mentioned gets the mention.
func (s *Notifications) planComment(tx *gorm.DB, actor *model.User, post *model.Post, parent *model.Comment, body string) (notifyPlan, error) {
	to, err := commentRecipients(tx, actor, post, parent, body)
	if err != nil {
		return nil, err
	}
	return lockPlan(tx, actor, to)
}

func lockPlan(tx *gorm.DB, actor *model.User, to []recipient) (notifyPlan, error) {
	seqs, err := lockUsers(tx, append(recipientIDs(to), actor.ID))
	if err != nil {
		return nil, err
	}
	for i := range to {
		to[i].seq = seqs[to[i].userID]
	}
	return to, nil
}

// postRecipients returns who a new post with body by actor notifies.
func postRecipients(tx *gorm.DB, actor *model.User, body string) ([]recipient, error) {
	r := recipients{}
	if err := r.addMentions(tx, body); err != nil {
		return nil, err
	}
	r.drop(actor.ID)
	return r.pick(), nil
}

// commentRecipients returns who a new comment with body by actor notifies,
// and how; see planComment.
func commentRecipients(tx *gorm.DB, actor *model.User, post *model.Post, parent *model.Comment, body string) ([]recipient, error) {
	r := recipients{}
	switch {
	case parent == nil:
		r.add(post.AuthorID, model.NotifyPostComment)
	case parent.DeletedAt == nil:
		// The author of a deleted comment is not told of replies to its
		// placeholder: they took their words back, and the placeholder no
		// longer names them.
		r.add(parent.AuthorID, model.NotifyCommentReply)
	}
	if err := r.dropMuted(tx, post.ID); err != nil {
		return nil, err
	}
	if err := r.addMentions(tx, body); err != nil {
		return nil, err
	}
	r.drop(actor.ID)
	return r.pick(), nil
}

// commentsDeleted removes, inside tx, the notifications of the deleted
// comments, so they leave every list and unread count. The users who lose
// unread ones hear their new count after commit.
func (s *Notifications) commentsDeleted(tx *gorm.DB, commentIDs []int64) (Outbox, error) {
	var out Outbox
	for chunk := range slices.Chunk(commentIDs, deleteChunk) {
		users, err := removeWhere(tx, "comment_id IN ?", chunk)
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
	users, err := removeWhere(tx, "post_id = ?", postID)
	if err != nil {
		return Outbox{}, err
	}
	return Outbox{recounts: users}, nil
}

// removeWhere deletes the notifications matching the condition and returns
// the users who had unread ones among them.
func removeWhere(tx *gorm.DB, cond string, args ...any) ([]int64, error) {
	var users []int64
	err := tx.Model(&model.Notification{}).Where(cond, args...).Where("is_read = ?", false).
		Distinct().Pluck("user_id", &users).Error
	if err != nil {
		return nil, dbError(err)
	}
	if err := tx.Where(cond, args...).Delete(&model.Notification{}).Error; err != nil {
		return nil, dbError(err)
	}
	return users, nil
}

// recipients collects, per user, the notification types one change would
// give them, before the priority rule picks one.
type recipients map[int64]map[string]bool

func (r recipients) add(userID int64, typ string) {
	if r[userID] == nil {
		r[userID] = map[string]bool{}
	}
	r[userID][typ] = true
}

func (r recipients) drop(userID int64) { delete(r, userID) }

// dropMuted removes the users who muted the post. It runs before mentions
// are added, since a mute silences only post_comment and comment_reply.
func (r recipients) dropMuted(tx *gorm.DB, postID int64) error {
	if len(r) == 0 {
		return nil
	}
	var muted []int64
	err := tx.Model(&model.PostMute{}).Where("post_id = ? AND user_id IN ?", postID, r.userIDs()).
		Pluck("user_id", &muted).Error
	if err != nil {
		return dbError(err)
	}
	for _, id := range muted {
		r.drop(id)
	}
	return nil
}

// addMentions adds a mention for every existing user named in body. Users
// are found by their username key, so "@Alice" finds alice; unknown names
// are ignored.
func (r recipients) addMentions(tx *gorm.DB, body string) error {
	names := ParseMentions(body)
	if len(names) == 0 {
		return nil
	}
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = model.UsernameKey(name)
	}
	var ids []int64
	if err := tx.Model(&model.User{}).Where("username_key IN ?", keys).Pluck("id", &ids).Error; err != nil {
		return dbError(err)
	}
	for _, id := range ids {
		r.add(id, model.NotifyMention)
	}
	return nil
}

func (r recipients) userIDs() []int64 {
	ids := make([]int64, 0, len(r))
	for id := range r {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// pick applies the priority rule: one type per user, in user id order.
func (r recipients) pick() []recipient {
	// The types one change can give a user, the one that wins first.
	typePriority := [...]string{model.NotifyCommentReply, model.NotifyMention, model.NotifyPostComment}
	out := make([]recipient, 0, len(r))
	for _, id := range r.userIDs() {
		for _, typ := range typePriority {
			if r[id][typ] {
				out = append(out, recipient{userID: id, typ: typ})
				break
			}
		}
	}
	return out
}

type recipient struct {
	userID int64
	typ    string
	// seq is the user's notification_seq, read under the row's lock.
	seq int64
}

func recipientIDs(to []recipient) []int64 {
	ids := make([]int64, len(to))
	for i, r := range to {
		ids[i] = r.userID
	}
	return ids
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
// SQLite takes a database-wide write lock at BEGIN (see OpenDB), which
// orders writers already; its dialect drops FOR UPDATE.
//
// Rows are inserted one at a time: MySQL reports only the first id of a
// multi-row insert, and with innodb_autoinc_lock_mode=2 (MySQL 8's
// default) the others need not follow it. A plan names each user once, so
// one statement moves every recipient's sequence on by one.
func (s *Notifications) write(tx *gorm.DB, to notifyPlan, build func(userID int64, typ string) *model.Notification) (Outbox, error) {
	if len(to) == 0 {
		return Outbox{}, nil
	}
	now := Now()
	out := Outbox{notifications: make([]*model.Notification, 0, len(to))}
	for _, r := range to {
		n := build(r.userID, r.typ)
		n.CreatedAt = now
		n.Seq = r.seq + 1
		if err := tx.Create(n).Error; err != nil {
			return Outbox{}, dbError(err)
		}
		out.notifications = append(out.notifications, n)
	}
	err := tx.Model(&model.User{}).Where("id IN ?", recipientIDs(to)).
		UpdateColumn("notification_seq", gorm.Expr("notification_seq + 1")).Error
	if err != nil {
		return Outbox{}, dbError(err)
	}
	return out, nil
}

// lockUsers takes the write locks of the given users' rows, ascending by id
// (see write). It returns the notification_seq of each user that exists.
func lockUsers(tx *gorm.DB, ids []int64) (map[int64]int64, error) {
	var rows []struct {
		ID              int64
		NotificationSeq int64
	}
	err := tx.Model(&model.User{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Select("id", "notification_seq").Where("id IN ?", ids).Order("id").Find(&rows).Error
	if err != nil {
		return nil, dbError(err)
	}
	seqs := make(map[int64]int64, len(rows))
	for _, r := range rows {
		seqs[r.ID] = r.NotificationSeq
	}
	return seqs, nil
}

// Publish tells clients about what a committed transaction wrote. Publish
// errors are logged, never returned: the rows are the truth, and clients
// that miss a message recover it from the database by id.
//
// Publish runs on after the request's context ends (the client that caused
// the change is not the one being told), bounded by its own timeout. The
// Publisher must not call back into Notifications synchronously.
func (s *Notifications) Publish(ctx context.Context, out Outbox) {
	if len(out.notifications) == 0 && len(out.recounts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()

	byUser := map[int64][]*model.Notification{}
	var users []int64
	for _, n := range out.notifications {
		if byUser[n.UserID] == nil {
			users = append(users, n.UserID)
		}
		byUser[n.UserID] = append(byUser[n.UserID], n)
	}
	for _, u := range users {
		// Without a count the notifications still go out, marked as such,
		// and the hub has the user's connections read them from the
		// database (see Publisher): a live push is never just dropped.
		s.publishCount(ctx, u, true, func(unread int64) error {
			var errs []error
			for _, n := range byUser[u] {
				errs = append(errs, s.pub.PublishNotification(ctx, n, unread))
			}
			return errors.Join(errs...)
		})
	}
	for _, u := range out.recounts {
		if byUser[u] != nil {
			continue // the notification carried the new count
		}
		byUser[u] = []*model.Notification{} // and each user hears it once
		s.publishCount(ctx, u, false, func(unread int64) error { return s.pub.PublishUnreadCount(ctx, u, unread) })
	}
}

// publishCount counts userID's unread notifications and passes the count
// to send, holding the user's stripe throughout (see Notifications.stripes).
// It returns the count, or -1 when it could not be taken; then it calls send
// with -1 only when sendUnknown is set.
func (s *Notifications) publishCount(ctx context.Context, userID int64, sendUnknown bool, send func(unread int64) error) int64 {
	mu := &s.stripes[uint64(userID)%publishStripes]
	mu.Lock()
	defer mu.Unlock()
	unread, err := s.UnreadCount(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "notifications: unread count for publishing", "user_id", userID, "error", err.Error())
		if !sendUnknown {
			return -1
		}
		unread = -1
	}
	if err := send(unread); err != nil {
		s.log.WarnContext(ctx, "notifications: publish", "user_id", userID, "error", err.Error())
	}
	return unread
}

// NotificationsAfter returns userID's notifications with an id above
// afterID, oldest first, at most limit, with their actors. It is how a
// client resumes from the largest id it has seen.
func (s *Notifications) NotificationsAfter(ctx context.Context, userID, afterID int64, limit int) ([]*model.Notification, error) {
	if limit <= 0 {
		return nil, model.Errorf(model.EINVALID, "limit must be positive")
	}
	var list []*model.Notification
	err := s.db.WithContext(ctx).Where("user_id = ? AND id > ?", userID, afterID).
		Order("id").Limit(limit).Find(&list).Error
	if err != nil {
		return nil, dbError(err)
	}
	return s.withActors(ctx, list)
}

// NotificationHead returns where userID's notifications stand, in one
// statement so that its three figures agree with each other: the hub
// starts a connection's cursor from it. An unknown user has a zero head.
func (s *Notifications) NotificationHead(ctx context.Context, userID int64) (model.NotificationHead, error) {
	var head model.NotificationHead
	err := s.db.WithContext(ctx).Raw(`SELECT u.notification_seq AS seq,
		(SELECT COALESCE(MAX(n.id), 0) FROM notifications n WHERE n.user_id = u.id) AS last_id,
		(SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.is_read = ?) AS unread
		FROM users u WHERE u.id = ?`, false, userID).Scan(&head).Error
	if err != nil {
		return model.NotificationHead{}, dbError(err)
	}
	return head, nil
}

// NotificationSeqs returns the notification_seq of each of the users that
// exists: the hub compares them with what its connections have sent to
// find, after a broker outage, the few that missed something.
func (s *Notifications) NotificationSeqs(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	seqs := make(map[int64]int64, len(userIDs))
	for chunk := range slices.Chunk(userIDs, lookupChunk) {
		var rows []struct {
			ID              int64
			NotificationSeq int64
		}
		err := s.db.WithContext(ctx).Model(&model.User{}).Select("id", "notification_seq").
			Where("id IN ?", chunk).Find(&rows).Error
		if err != nil {
			return nil, dbError(err)
		}
		for _, r := range rows {
			seqs[r.ID] = r.NotificationSeq
		}
	}
	return seqs, nil
}

// MissedNotifications reads what many users' connections missed while the
// hub's broker was away: for each range, the user's notifications with an
// id above AfterID and a seq up to UpToSeq, oldest first, and the user's
// unread count; one range per user. It makes three statements however many ranges there are
// (the counts, the rows, their actors), where reading each user's on its
// own would make thousands after one broker blip. The hub keeps ranges few
// and short (see notify.Hub.catchUpAll).
func (s *Notifications) MissedNotifications(ctx context.Context, ranges []model.NotificationRange) ([]model.MissedNotifications, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	if len(ranges) > lookupChunk {
		return nil, model.Errorf(model.EINVALID, "at most %d ranges at once", lookupChunk)
	}
	users := make([]int64, len(ranges))
	var where strings.Builder
	args := make([]any, 0, 3*len(ranges))
	for i, r := range ranges {
		users[i] = r.UserID
		if i > 0 {
			where.WriteString(" OR ")
		}
		// Each disjunct is a range of the (user_id, id) index.
		where.WriteString("(user_id = ? AND id > ? AND seq <= ?)")
		args = append(args, r.UserID, r.AfterID, r.UpToSeq)
	}
	var counts []struct {
		UserID int64
		Unread int64
	}
	err := s.db.WithContext(ctx).Model(&model.Notification{}).Select("user_id", "COUNT(*) AS unread").
		Where("user_id IN ? AND is_read = ?", users, false).Group("user_id").Find(&counts).Error
	if err != nil {
		return nil, dbError(err)
	}
	var list []*model.Notification
	if err := s.db.WithContext(ctx).Where(where.String(), args...).Order("user_id, id").Find(&list).Error; err != nil {
		return nil, dbError(err)
	}
	if list, err = s.withActors(ctx, list); err != nil {
		return nil, err
	}

	out := make([]model.MissedNotifications, len(ranges))
	at := make(map[int64]*model.MissedNotifications, len(ranges))
	for i, r := range ranges {
		out[i] = model.MissedNotifications{UserID: r.UserID, Head: model.NotificationHead{Seq: r.UpToSeq}}
		at[r.UserID] = &out[i]
	}
	for _, c := range counts {
		at[c.UserID].Head.Unread = c.Unread
	}
	for _, n := range list {
		m := at[n.UserID]
		m.List = append(m.List, n)
		m.Head.LastID = n.ID
	}
	return out, nil
}

// UnreadNotifications returns userID's unread notifications, oldest first,
// at most limit, with their actors.
func (s *Notifications) UnreadNotifications(ctx context.Context, userID int64, limit int) ([]*model.Notification, error) {
	if limit <= 0 {
		return nil, model.Errorf(model.EINVALID, "limit must be positive")
	}
	var list []*model.Notification
	err := s.db.WithContext(ctx).Where("user_id = ? AND is_read = ?", userID, false).
		Order("id").Limit(limit).Find(&list).Error
	if err != nil {
		return nil, dbError(err)
	}
	return s.withActors(ctx, list)
}

// UnreadCount returns how many of userID's notifications are unread.
func (s *Notifications) UnreadCount(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&model.Notification{}).
		Where("user_id = ? AND is_read = ?", userID, false).Count(&n).Error
	if err != nil {
		return 0, dbError(err)
	}
	return n, nil
}

// MarkRead marks read userID's notifications with the given ids, or, when
// upToID > 0, every one with an id <= upToID (never a newer one, which the
// client has not seen). Exactly one of the two must be given. Ids that are
// not userID's, or no longer exist, are ignored: notifications vanish when
// their comment is deleted, and one vanished id must not stop the rest
// being marked; ignoring them also tells nothing about other users' ids.
// MarkRead publishes and returns the new unread count.
// Errors: EINVALID for a bad selection.
func (s *Notifications) MarkRead(ctx context.Context, userID int64, ids []int64, upToID int64) (int64, error) {
	if err := checkReadSelection(ids, upToID); err != nil {
		return 0, err
	}
	q := s.db.WithContext(ctx).Model(&model.Notification{}).Where("user_id = ? AND is_read = ?", userID, false)
	if upToID > 0 {
		q = q.Where("id <= ?", upToID)
	} else {
		q = q.Where("id IN ?", ids)
	}
	res := q.Update("is_read", true)
	if res.Error != nil {
		return 0, dbError(res.Error)
	}
	if res.RowsAffected == 0 {
		return s.UnreadCount(ctx, userID) // nothing changed, nothing to tell
	}
	return s.readStateChanged(ctx, userID)
}

// checkReadSelection validates the arguments of MarkRead.
func checkReadSelection(ids []int64, upToID int64) error {
	switch {
	case len(ids) > 0 && upToID != 0:
		return model.Errorf(model.EINVALID, "give either ids or up_to_id, not both")
	case upToID < 0:
		return model.Errorf(model.EINVALID, "up_to_id must be a positive integer")
	case upToID > 0:
		return nil
	case len(ids) == 0:
		return model.Errorf(model.EINVALID, "ids or up_to_id is required")
	case len(ids) > MaxMarkIDs:
		return model.Errorf(model.EINVALID, "ids may hold at most %d ids", MaxMarkIDs)
	}
	for _, id := range ids {
		if id <= 0 {
			return model.Errorf(model.EINVALID, "ids must be positive integers")
		}
	}
	return nil
}

// readStateChanged publishes userID's new unread count and returns it.
func (s *Notifications) readStateChanged(ctx context.Context, userID int64) (int64, error) {
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	unread := s.publishCount(pubCtx, userID, false, func(unread int64) error {
		return s.pub.PublishUnreadCount(pubCtx, userID, unread)
	})
	if unread < 0 {
		// The marking committed; only the count failed. Ask once more so
		// the caller gets a real error if the database is gone.
		return s.UnreadCount(ctx, userID)
	}
	return unread, nil
}

// NotificationPage is one page of a user's notifications, newest first,
// with the user's unread count whatever the filter, so a client refreshes
// its badge with the list.
type NotificationPage struct {
	Page[*model.Notification]
	UnreadCount int64 `json:"unread_count"`
}

// ListNotifications is the query of List.
type ListNotifications struct {
	UnreadOnly bool
	Limit      int    // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor     string // a previous page's next_cursor; "" for the first
}

// notificationsSort names the one order of notification lists in their
// cursors. The id alone is the key: ids grow with time.
const notificationsSort = "notifications"

// List returns a page of the signed-in user's notifications, newest first.
// Errors: EUNAUTHENTICATED, EINVALID for a bad limit or cursor.
func (s *Notifications) List(ctx context.Context, q ListNotifications) (*NotificationPage, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(q.Cursor, notificationsSort, noKey)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx).Where("user_id = ?", u.ID)
	if q.UnreadOnly {
		db = db.Where("is_read = ?", false)
	}
	if after != nil {
		db = db.Where("id < ?", after.ID)
	}
	var rows []*model.Notification
	if err := db.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(n *model.Notification) cursor {
		return cursor{Sort: notificationsSort, ID: n.ID}
	})
	if _, err := s.withActors(ctx, page.Items); err != nil {
		return nil, err
	}
	unread, err := s.UnreadCount(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &NotificationPage{Page: *page, UnreadCount: unread}, nil
}

// CountUnread returns the signed-in user's unread count.
// Errors: EUNAUTHENTICATED.
func (s *Notifications) CountUnread(ctx context.Context) (int64, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return 0, err
	}
	return s.UnreadCount(ctx, u.ID)
}

// MarkOneRead marks one of the signed-in user's notifications read; marking
// a read one again changes nothing. It returns the new unread count.
// Errors: EUNAUTHENTICATED, ENOTFOUND when the notification is not the
// user's (another user's answers the same as a missing one).
func (s *Notifications) MarkOneRead(ctx context.Context, id int64) (int64, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return 0, err
	}
	db := s.db.WithContext(ctx)
	res := db.Model(&model.Notification{}).Where("id = ? AND user_id = ? AND is_read = ?", id, u.ID, false).
		Update("is_read", true)
	if res.Error != nil {
		return 0, dbError(res.Error)
	}
	if res.RowsAffected == 0 {
		// Either already read, or not this user's.
		var n int64
		if err := db.Model(&model.Notification{}).Where("id = ? AND user_id = ?", id, u.ID).Count(&n).Error; err != nil {
			return 0, dbError(err)
		}
		if n == 0 {
			return 0, model.Errorf(model.ENOTFOUND, "notification %d not found", id)
		}
		return s.UnreadCount(ctx, u.ID)
	}
	return s.readStateChanged(ctx, u.ID)
}

// MarkMineRead is MarkRead for the signed-in user.
// Errors: EUNAUTHENTICATED, EINVALID.
func (s *Notifications) MarkMineRead(ctx context.Context, ids []int64, upToID int64) (int64, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return 0, err
	}
	return s.MarkRead(ctx, u.ID, ids, upToID)
}

// SendSystem writes a system notification with message to user userID and
// publishes it. Only an admin may; the admin is its actor, and the whole
// message (up to 2000 runes, trimmed) is its excerpt, since there is no
// comment to read it in.
// Errors: EUNAUTHENTICATED, EPERMISSION, EINVALID, ENOTFOUND for an unknown user.
func (s *Notifications) SendSystem(ctx context.Context, userID int64, message string) (*model.Notification, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsAdmin() {
		return nil, model.Errorf(model.EPERMISSION, "only an admin may send system notifications")
	}
	if userID <= 0 {
		return nil, model.Errorf(model.EINVALID, "user_id must be a positive integer")
	}
	message, err = model.Text("message", message, 1, model.MessageMax)
	if err != nil {
		return nil, err
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		// The lock orders the user's notifications (see write), and finding
		// no row gives a clean 404.
		seqs, err := lockUsers(tx, []int64{userID})
		if err != nil {
			return err
		}
		seq, found := seqs[userID]
		if !found {
			return model.Errorf(model.ENOTFOUND, "user %d not found", userID)
		}
		actorID := actor.ID
		out, err = s.write(tx, []recipient{{userID: userID, typ: model.NotifySystem, seq: seq}}, func(userID int64, typ string) *model.Notification {
			return &model.Notification{UserID: userID, Type: typ, ActorID: &actorID, Excerpt: message, Actor: model.AuthorOf(actor)}
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Publish(ctx, out)
	return out.notifications[0], nil
}

// withActors fills the Actor of each notification, in one query.
func (s *Notifications) withActors(ctx context.Context, list []*model.Notification) ([]*model.Notification, error) {
	if list == nil {
		list = []*model.Notification{}
	}
	var ids []int64
	for _, n := range list {
		if n.ActorID != nil {
			ids = append(ids, *n.ActorID)
		}
	}
	actors, err := fetchAuthors(s.db.WithContext(ctx), ids)
	if err != nil {
		return nil, err
	}
	for _, n := range list {
		if n.ActorID != nil {
			n.Actor = actors[*n.ActorID]
		}
	}
	return list, nil
}
