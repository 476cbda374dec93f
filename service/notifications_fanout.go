package service

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Fan-out: the thread_comment notifications of a post's watchers. A post
// may have thousands, too many to write in the comment's transaction
// without making every comment on it slow, so that transaction writes one
// fanout_outbox row instead (queueFanout), and a worker on every instance
// (RunFanout) writes the watchers' rows from it in batches after commit.
//
// Each batch is one transaction: it claims the oldest outbox row that no
// other worker holds (FOR UPDATE SKIP LOCKED; SQLite has one writer and no
// row locks), takes the next watchers after the row's progress mark, locks
// their user rows in ascending id order and writes their rows with the
// next number of each user's sequence, exactly as the comment's own
// notifications are written (see write), moves the mark and commits; the
// last batch deletes the outbox row. Rows and progress commit together, so
// a process killed at any moment leaves either the whole batch or none of
// it, and the next claim goes on from the mark: no watcher is told twice,
// none is skipped. notifications_thread_comment, unique per comment and
// user, makes a second row for one watcher impossible whatever happens.
//
// Lock order: a batch takes its outbox row first and then user rows. No
// transaction that holds user rows waits for an existing outbox row (a new
// comment inserts a new one, past every existing id), and the deletes that
// remove outbox rows (of a deleted comment or post) hold no user rows, so
// this adds no cycle to the package's order.

// Fanout configures RunFanout.
type Fanout struct {
	// BatchSize is how many watchers one transaction writes to.
	BatchSize int
	// Poll is how often the worker looks for outbox rows that it was not
	// woken for: written by other instances, or left by a process that
	// stopped in the middle of them.
	Poll time.Duration
}

// queueFanout writes, inside the comment's transaction, the outbox row
// that makes the worker tell the post's watchers of comment c. The row
// names the users plan notifies, whom the fan-out skips.
func (s *Notifications) queueFanout(tx *gorm.DB, plan notifyPlan, actor *model.User, c *model.Comment) error {
	query, args := outboxStatement(plan, actor, c, byValue(c.ID))
	_, err := rawInsert(tx, "fanout_outbox", query, args...)
	return err
}

// outboxStatement inserts the outbox row of comment c by actor, whose id
// is named by id, skipping the users plan notifies.
func outboxStatement(plan notifyPlan, actor *model.User, c *model.Comment, id commentRef) (string, []any) {
	return `INSERT INTO fanout_outbox
	(post_id, comment_id, actor_id, skip_user_ids, after_user_id, created_at) VALUES (?, ` + id.expr + `, ?, ?, 0, ?)`,
		slices.Concat([]any{c.PostID}, id.args, []any{actor.ID, formatIDs(recipientIDs(plan)), Now()})
}

// wakeFanout tells this instance's worker that an outbox row committed.
func (s *Notifications) wakeFanout() {
	select {
	case s.fanoutWake <- struct{}{}:
	default: // already woken
	}
}

// RunFanout writes and publishes the thread_comment notifications of the
// outbox, batch after batch, until ctx ends; then it finishes the batch
// under way and returns, leaving the rest to the next worker (the outbox
// rows say where they stand). Failures are logged and retried at the next
// poll.
func (s *Notifications) RunFanout(ctx context.Context, cfg Fanout) {
	if cfg.BatchSize <= 0 || cfg.Poll <= 0 {
		s.log.ErrorContext(ctx, "notifications: fan-out disabled: batch size and poll interval must be positive")
		return
	}
	// A batch is published while the next one is written, and before the
	// next one is published: publishes of a user's notifications keep the
	// order of their commits.
	var publishing sync.WaitGroup
	defer publishing.Wait()
	pollLoop(ctx, cfg.Poll, fanoutStepLimit, s.fanoutWake, s.log, "notifications: fan-out", func(work context.Context) (bool, error) {
		found, notes, err := s.fanoutBatch(work, cfg.BatchSize)
		publishing.Wait()
		if len(notes) > 0 {
			publishing.Go(func() { s.publishMany(ctx, notes) })
		}
		return found, err
	})
}

// fanoutStepLimit bounds one fan-out batch, its transaction of a few
// hundred inserts, which takes well under a second. It is above InnoDB's
// default lock wait (50 s), so that a batch waiting on a lock is answered
// by the database, and the limit only ends one waiting on a database that
// no longer answers.
const fanoutStepLimit = time.Minute

// FanoutBatch writes the thread_comment notifications of at most size
// watchers of the oldest outbox row no other worker holds, and publishes
// them after commit. It reports whether it found an outbox row.
func (s *Notifications) FanoutBatch(ctx context.Context, size int) (bool, error) {
	found, notes, err := s.fanoutBatch(ctx, size)
	s.publishMany(ctx, notes)
	return found, err
}

// fanoutBatch is FanoutBatch without the publishing: it returns what it
// committed, for the caller to publish.
func (s *Notifications) fanoutBatch(ctx context.Context, size int) (bool, []*model.Notification, error) {
	if size <= 0 {
		return false, nil, model.Errorf(model.EINVALID, "size must be positive")
	}
	var found bool
	var out Outbox
	err := transact(ctx, s.db, func(tx *gorm.DB) error {
		found, out = false, Outbox{}
		var claimed []model.FanoutOutbox
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}).
			Order("id").Limit(1).Find(&claimed).Error
		if err != nil || len(claimed) == 0 {
			return dbError(err)
		}
		found = true
		out, err = s.fanoutStep(tx, &claimed[0], size)
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return found, out.notifications, nil
}

// fanoutStep does one batch of the claimed outbox row ob, inside tx.
func (s *Notifications) fanoutStep(tx *gorm.DB, ob *model.FanoutOutbox, size int) (Outbox, error) {
	var c model.Comment
	err := tx.Select("id", "body", "spoiler", "hidden", "deleted_at").Take(&c, ob.CommentID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && (c.DeletedAt != nil || c.Hidden) {
		// Deleted or hidden before its watchers were all told (which
		// removes the outbox row, so only a batch that claimed it first
		// meets this): what was written went with it, and the rest is not
		// written.
		return Outbox{}, dbError(tx.Delete(ob).Error)
	}
	if err != nil {
		return Outbox{}, dbError(err)
	}
	var watchers []int64
	err = tx.Model(&model.PostSubscription{}).
		Where("post_id = ? AND level = ? AND user_id > ?", ob.PostID, model.LevelWatching, ob.AfterUserID).
		Order("user_id").Limit(size).Pluck("user_id", &watchers).Error
	if err != nil {
		return Outbox{}, dbError(err)
	}
	if len(watchers) < size {
		err = tx.Delete(ob).Error
	} else {
		err = tx.Model(ob).UpdateColumn("after_user_id", watchers[len(watchers)-1]).Error
	}
	if err != nil {
		return Outbox{}, dbError(err)
	}

	skip, err := parseIDs(ob.SkipUserIDs)
	if err != nil {
		return Outbox{}, err
	}
	skip = append(skip, ob.ActorID)
	to := slices.DeleteFunc(watchers, func(id int64) bool { return slices.Contains(skip, id) })
	if len(to) == 0 {
		return Outbox{}, nil
	}
	// The author's name needs no lock: read before the watchers' rows are
	// locked, it keeps a round trip out of the time they are held.
	authors, err := fetchAuthors(tx, []int64{ob.ActorID})
	if err != nil {
		return Outbox{}, err
	}
	// The watchers who blocked the comment's author hear nothing of it;
	// the blocks are read with the locks, as lockPlan reads them.
	locked, blockers, err := lockNotified(tx, ob.ActorID, to)
	if err != nil {
		return Outbox{}, err
	}
	plan := make(notifyPlan, 0, len(to))
	for _, id := range to {
		if u, ok := locked[id]; ok && !blockers[id] {
			plan = append(plan, recipient{userID: id, typ: model.NotifyThreadComment, lockedUser: u})
		}
	}
	actorID, postID, commentID := ob.ActorID, ob.PostID, ob.CommentID
	excerpt, actor := model.ExcerptOf(c.Body, c.Spoiler), authors[ob.ActorID]
	return s.writeThreadComments(tx, plan, commentID, func(userID int64) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: model.NotifyThreadComment, ActorID: &actorID, PostID: &postID,
			CommentID: &commentID, Excerpt: excerpt, Actor: actor,
		}
	})
}

// removeFanout deletes, inside tx, the outbox rows matching the condition:
// those of deleted comments or of a deleted post, whose watchers are not
// to be told any more. It waits for a batch under way on them, whose rows
// the caller then removes with the rest.
func removeFanout(tx *gorm.DB, cond string, args ...any) error {
	return dbError(tx.Where(cond, args...).Delete(&model.FanoutOutbox{}).Error)
}

// formatIDs and parseIDs keep a list of user ids in an outbox row.
func formatIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func parseIDs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	ids := make([]int64, len(parts))
	for i, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, errors.New("service: outbox row with a bad user id list")
		}
		ids[i] = id
	}
	return ids, nil
}
