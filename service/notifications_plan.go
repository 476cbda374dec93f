package service

import (
	"slices"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Planning: who a new post or comment notifies, and how, worked out and
// locked at the start of its transaction (a comment's worked out before
// it). notifications_write.go then
// writes the rows.

// notifyPlan is who a new post or comment notifies and how, one type per
// user in user id order. planPost (for a comment, lockPlan from its draft)
// makes it at the start of the transaction, before the post or comment row
// is inserted, and locks the user rows of the actor and of every
// recipient, in id order; the matching postCreated or commentCreated then
// writes the rows to it.
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

// commentDraft is who a new comment notifies, worked out before its
// transaction (draftComment); the transaction locks the plan from it
// (lockPlan), which also sets aside the recipients who blocked the actor.
type commentDraft struct {
	to []recipient
	// watched says that someone else watches the post: the comment needs
	// the fan-out (see queueFanout).
	watched bool
	// leveled says that the actor has a level on the post already, which
	// commenting leaves as it is (see watchImplicitly).
	leveled bool
}

// draftComment works out who a new comment by actor, read as t
// (readCommentTarget), notifies; mentioned are the users its body
// mentions, as its rendering found them (bodies.renderMentions).
// Everything it needs was read without locks, before the comment's
// transaction: the authors of the post and of the
// parent do not change, and the mutes, mentions and watchers were never
// locked (a level set while a comment commits may or may not apply to it,
// with or without the post's lock).
//
// Each user gets at most one notification for it, by priority comment_reply
// > mention > post_comment > thread_comment, and the actor none. A user who
// muted the post gets no post_comment or comment_reply from it, but is
// still told of a mention: the mute is applied before the priority, so a
// muted parent author who is also mentioned gets the mention. The draft
// holds the first three, addressed to someone; thread_comment, for the
// post's watchers who got none of them, is written after commit by the
// fan-out (notifications_fanout.go), from the outbox row the comment's
// transaction writes.
func draftComment(actor *model.User, t *commentTarget, mentioned []int64) commentDraft {
	r := recipients{}
	switch {
	case t.targetMuted:
	case t.parent == nil:
		r.add(t.post.AuthorID, model.NotifyPostComment)
	case t.parent.DeletedAt == nil:
		// The author of a deleted comment is not told of replies to its
		// placeholder: they took their words back, and the placeholder no
		// longer names them.
		r.add(t.parent.AuthorID, model.NotifyCommentReply)
	}
	for _, id := range mentioned {
		r.add(id, model.NotifyMention)
	}
	r.drop(actor.ID)
	return commentDraft{to: r.pick(), watched: t.watched, leveled: t.leveled}
}

// lockPlan locks the user rows of actor and of the recipients to, in id
// order, and returns the plan of those who have not blocked actor: nothing
// the actor does notifies them, whatever the type.
//
// Blocks are read with the locks, by a locking read (which sees every
// committed row, whatever the transaction's snapshot): a block commits
// holding its blocker's row (Blocks.Block), so either it committed before
// this read, which sees it, or it waits for this transaction and then
// withdraws what this one wrote.
func lockPlan(tx *gorm.DB, actor *model.User, to []recipient) (notifyPlan, error) {
	locked, blockers, err := lockNotified(tx, actor.ID, append(recipientIDs(to), actor.ID))
	if err != nil {
		return nil, err
	}
	return planOf(to, locked, blockers), nil
}

// planOf is the plan of the recipients to who are not among blockers, each
// with their notification_seq and counts of locked, read under their locks.
func planOf(to []recipient, locked map[int64]lockedUser, blockers map[int64]bool) notifyPlan {
	plan := make(notifyPlan, 0, len(to))
	for _, r := range to {
		if !blockers[r.userID] {
			r.lockedUser = locked[r.userID]
			plan = append(plan, r)
		}
	}
	return plan
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
	// lockedUser is what the plan read of the user's row under its lock:
	// their notification_seq and counts.
	lockedUser
}

func recipientIDs(to []recipient) []int64 {
	ids := make([]int64, len(to))
	for i, r := range to {
		ids[i] = r.userID
	}
	return ids
}
