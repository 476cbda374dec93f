package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// The mail outbox. What a user is owed is decided from the database alone:
// their unread notifications above their mark (mailed_up_to_id), past the
// delay, made while they had no open connection (instant), or all of them
// once the daily time has passed (daily). A worker on every instance
// claims one user's row at a time and works in three steps:
//
//  1. In a transaction: claim the row (FOR UPDATE SKIP LOCKED; SQLite has
//     one writer), fix the batch, the notifications up to pending_up_to_id,
//     and the Message-ID it goes out under, and hold the row for twice
//     email.send_timeout (claimed_until) so that no other worker sends it.
//  2. Send it through the SMTP server, with no transaction open.
//  3. Record it: the mark moves to pending_up_to_id and mailed_at to now.
//     A failed send records a retry instead (attempts, retry_at, doubling).
//
// A process killed between 2 and 3 leaves the batch pending. Once its hold
// ends, the next claim sends the same batch again under the same
// Message-ID: at most one duplicate, which a receiving server that
// remembers Message-IDs (Gmail does, as does mailpit with
// --ignore-duplicate-ids) drops. Nothing is lost: a notification leaves
// the outbox only when a message that lists it was accepted, or when it
// will never be mailed (read, seen live, its type switched off).

// maxRetryWait caps the wait between two attempts to send one message.
const maxRetryWait = time.Hour

// RunMail sends the mail that is due, user after user, until ctx ends;
// then it finishes the message under way. It looks for work every poll.
// Failures are logged and retried (see MailOnce).
func (o *Offline) RunMail(ctx context.Context, poll time.Duration) {
	if o.cfg.Mailer == nil {
		return
	}
	// A step is two short transactions around one SMTP conversation,
	// which SendTimeout bounds.
	pollLoop(ctx, poll, o.cfg.SendTimeout+time.Minute, nil, o.log, "offline: mail", o.MailOnce)
}

// MailOnce claims one user whose mail is due and sends it. It reports
// whether it found one (and so whether there may be more). An SMTP failure
// is not an error: it is logged, and the user's row says when to try again.
func (o *Offline) MailOnce(ctx context.Context) (bool, error) {
	now := o.now()
	var m *model.Mail
	var userID int64
	var found bool
	err := transact(ctx, o.db, func(tx *gorm.DB) error {
		m, found = nil, false
		row, err := o.claimMail(tx, now)
		if err != nil || row == nil {
			return err
		}
		found, userID = true, row.UserID
		m, err = o.prepareMail(tx, row, now)
		return err
	})
	if err != nil || m == nil {
		return found, err
	}
	sendCtx, cancel := context.WithTimeout(ctx, o.cfg.SendTimeout)
	sendErr := o.cfg.Mailer.Send(sendCtx, m)
	cancel()
	return true, o.recordMail(ctx, userID, m.MessageID, sendErr)
}

// claimMail locks and returns the first row whose mail is due, or nil.
func (o *Offline) claimMail(tx *gorm.DB, now time.Time) (*model.DeliveryPreferences, error) {
	cutoff := now.Add(-o.cfg.Delay)
	slot := o.dailySlot(now)
	owed := "EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = delivery_preferences.user_id" +
		" AND n.is_read = ? AND n.id > delivery_preferences.mailed_up_to_id AND n.created_at <= ?)"
	var rows []model.DeliveryPreferences
	err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}).
		Where("email_verified = ? AND email <> '' AND email_delivery IN ?", true, []string{model.DeliveryInstant, model.DeliveryDaily}).
		Where("retry_at IS NULL OR retry_at <= ?", now).
		Where("claimed_until IS NULL OR claimed_until <= ?", now).
		Where(tx.Where("pending_message_id <> ''").
			Or(tx.Where("email_delivery = ? AND (mailed_at IS NULL OR mailed_at <= ?) AND "+owed, model.DeliveryInstant, cutoff, false, cutoff)).
			Or(tx.Where("email_delivery = ? AND (mailed_at IS NULL OR mailed_at < ?) AND "+owed, model.DeliveryDaily, slot, false, now))).
		Order("user_id").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, dbError(err)
	}
	return &rows[0], nil
}

// dailySlot returns the latest daily time at or before now.
func (o *Offline) dailySlot(now time.Time) time.Time {
	now = now.UTC()
	slot := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Add(o.cfg.DailyAt)
	if slot.After(now) {
		slot = slot.AddDate(0, 0, -1)
	}
	return slot
}

// prepareMail fixes, inside the claim's transaction, the batch of the
// claimed row and returns the message to send, or nil when nothing in the
// batch is to be mailed after all (then the mark moves past it at once).
func (o *Offline) prepareMail(tx *gorm.DB, row *model.DeliveryPreferences, now time.Time) (*model.Mail, error) {
	upTo, messageID := row.PendingUpToID, row.PendingMessageID
	if messageID == "" {
		created := now
		if row.EmailDelivery == model.DeliveryInstant {
			created = now.Add(-o.cfg.Delay)
		}
		err := tx.Model(&model.Notification{}).Select("COALESCE(MAX(id), 0)").
			Where("user_id = ? AND id > ? AND created_at <= ?", row.UserID, row.MailedUpToID, created).Scan(&upTo).Error
		if err != nil {
			return nil, dbError(err)
		}
		messageID = newMessageID(o.cfg.PublicURL)
	}
	items, err := o.mailItems(tx, row, upTo)
	if err != nil {
		return nil, err
	}
	rowOf := tx.Model(&model.DeliveryPreferences{}).Where("user_id = ?", row.UserID)
	if len(items) == 0 {
		set := map[string]any{"mailed_up_to_id": max(upTo, row.MailedUpToID), "pending_up_to_id": 0, "pending_message_id": ""}
		if row.EmailDelivery == model.DeliveryDaily {
			set["mailed_at"] = now // this day's digest is done: there was nothing in it
		}
		return nil, dbError(rowOf.Updates(set).Error)
	}
	err = rowOf.Updates(map[string]any{
		"pending_up_to_id": upTo, "pending_message_id": messageID, "claimed_until": now.Add(2 * o.cfg.SendTimeout),
	}).Error
	if err != nil {
		return nil, dbError(err)
	}
	var u model.User
	if err := tx.Take(&u, row.UserID).Error; err != nil {
		return nil, dbError(err)
	}
	kind := model.MailInstant
	if row.EmailDelivery == model.DeliveryDaily {
		kind = model.MailDaily
	}
	return &model.Mail{
		Kind: kind, To: row.Email, Locale: u.Locale, MessageID: messageID, Recipient: model.AuthorOf(&u), Items: items,
		UnsubscribeURL: o.cfg.PublicURL + "/api/v1/email/unsubscribe?token=" + url.QueryEscape(o.sign(purposeUnsubscribe, u.ID, time.Time{}, row.Email)),
		PreferencesURL: o.preferencesURL(),
	}, nil
}

// mailItems returns what a message to row's user lists: their unread
// notifications above the mark up to upTo, of the types they want, and for
// instant mail only those made after the user was last connected.
func (o *Offline) mailItems(tx *gorm.DB, row *model.DeliveryPreferences, upTo int64) ([]model.MailItem, error) {
	db := tx.Where("n.user_id = ? AND n.id > ? AND n.id <= ? AND n.is_read = ?", row.UserID, row.MailedUpToID, upTo, false)
	if row.EmailDelivery == model.DeliveryInstant {
		seen, err := o.lastSeen(tx, row.UserID)
		if err != nil {
			return nil, err
		}
		if !seen.IsZero() {
			db = db.Where("n.created_at > ?", seen)
		}
	}
	var rows []notificationRow
	if err := withActors(db.Order("n.id")).Scan(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	items := make([]model.MailItem, 0, len(rows))
	for i := range rows {
		n := rows[i].notification()
		if !row.TypeEnabled(n.Type) {
			continue
		}
		link := o.cfg.PublicURL + "/"
		if n.PostID != nil {
			link += "#/posts/" + strconv.FormatInt(*n.PostID, 10)
		}
		// The excerpt was made by model.ExcerptOf when the notification
		// was written (and rewritten when a spoiler mark changed): a
		// spoiler's is "[spoiler]", never its text.
		items = append(items, model.MailItem{Type: n.Type, Actor: n.Actor, Excerpt: n.Excerpt, URL: link, CreatedAt: n.CreatedAt})
	}
	return items, nil
}

// lastSeen returns the last moment the user is known to have had a
// connection open, on any instance, or zero.
func (o *Offline) lastSeen(db *gorm.DB, userID int64) (time.Time, error) {
	var seen []time.Time
	err := db.Model(&model.UserPresence{}).Where("user_id = ?", userID).Order("seen_at DESC").Limit(1).Pluck("seen_at", &seen).Error
	if err != nil || len(seen) == 0 {
		return time.Time{}, dbError(err)
	}
	return seen[0], nil
}

// recordMail records the outcome of sending messageID to userID: sent, the
// mark moves and the hold ends; failed, a retry is scheduled and the batch
// stays pending.
func (o *Offline) recordMail(ctx context.Context, userID int64, messageID string, sendErr error) error {
	now := o.now()
	rowOf := o.db.WithContext(ctx).Model(&model.DeliveryPreferences{}).
		Where("user_id = ? AND pending_message_id = ?", userID, messageID)
	if sendErr == nil {
		return dbError(rowOf.Updates(map[string]any{
			"mailed_up_to_id": gorm.Expr("pending_up_to_id"), "mailed_at": now, "pending_up_to_id": 0, "pending_message_id": "",
			"claimed_until": nil, "attempts": 0, "retry_at": nil,
		}).Error)
	}
	var attempts int
	if err := o.db.WithContext(ctx).Model(&model.DeliveryPreferences{}).Select("attempts").
		Where("user_id = ?", userID).Scan(&attempts).Error; err != nil {
		return dbError(err)
	}
	wait := min(o.cfg.RetryBase<<min(attempts, 20), maxRetryWait)
	o.log.WarnContext(ctx, "offline: mail not sent; will retry", "user_id", userID, "attempt", attempts+1,
		"retry_in", wait.String(), "error", sendErr.Error())
	return dbError(rowOf.Updates(map[string]any{
		"claimed_until": nil, "attempts": attempts + 1, "retry_at": now.Add(wait),
	}).Error)
}

// newMessageID returns a fresh Message-ID (without angle brackets) in the
// domain of the public URL.
func newMessageID(publicURL string) string {
	host := "discuss.invalid"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return fmt.Sprintf("%s@%s", hex.EncodeToString(b[:]), host)
}
