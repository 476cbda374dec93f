package service

import (
	"context"
	"encoding/base64"
	"net/url"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Web Push and presence. A notification is pushed, after its commit, to
// each browser subscription of a user who has no open connection anywhere;
// whether they have one is read from user_presence, which every instance's
// hub keeps (RecordPresence). Pushes are best effort: they are queued in
// memory and a process that stops loses those not yet sent (the
// notification itself is in the database, and in the mail outbox).

// presenceChunk bounds the rows one presence statement writes.
const presenceChunk = 500

// presenceKeep is how long presence rows are kept after they were last
// refreshed: far longer than any email.delay, which is what reads them.
const presenceKeep = 7 * 24 * time.Hour

// RecordPresence records that the users connected have a connection open
// on instance now, and that the users departed closed their last one
// there. The hub calls it when users come and go and, for every connected
// user, a few times per lease (see OfflineConfig.PresenceLease).
func (o *Offline) RecordPresence(ctx context.Context, instance string, connected, departed []int64) error {
	now := o.now()
	db := o.db.WithContext(ctx)
	for _, batch := range []struct {
		users     []int64
		connected bool
	}{{connected, true}, {departed, false}} {
		for chunk := range slices.Chunk(batch.users, presenceChunk) {
			rows := make([]model.UserPresence, len(chunk))
			for i, id := range chunk {
				rows[i] = model.UserPresence{UserID: id, Instance: instance, Connected: batch.connected, SeenAt: now}
			}
			err := db.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "user_id"}, {Name: "instance"}},
				DoUpdates: clause.AssignmentColumns([]string{"connected", "seen_at"}),
			}).Create(&rows).Error
			if err != nil {
				return dbError(err)
			}
		}
	}
	// Rows of instances long gone are removed, at most once an hour.
	if last := o.cleaned.Load(); now.UnixNano()-last > int64(time.Hour) && o.cleaned.CompareAndSwap(last, now.UnixNano()) {
		if err := db.Where("seen_at < ?", now.Add(-presenceKeep)).Delete(&model.UserPresence{}).Error; err != nil {
			return dbError(err)
		}
	}
	return nil
}

// connected reports whether the user has a connection open on any
// instance: a connected row refreshed within the lease.
func (o *Offline) connected(ctx context.Context, userID int64) (bool, error) {
	var n int64
	err := o.db.WithContext(ctx).Model(&model.UserPresence{}).
		Where("user_id = ? AND connected = ? AND seen_at > ?", userID, true, o.now().Add(-o.cfg.PresenceLease)).
		Count(&n).Error
	return n > 0, dbError(err)
}

// PushKey returns the VAPID public key browsers subscribe with.
// Errors: ENOTFOUND when this server offers no Web Push.
func (o *Offline) PushKey() (string, error) {
	if o.cfg.Pusher == nil {
		return "", model.Errorf(model.ENOTFOUND, "this server offers no Web Push (push_available is false)")
	}
	return o.cfg.VAPIDPublicKey, nil
}

// Subscribe keeps a browser's push subscription for the signed-in user. An
// endpoint already kept (for them or for whoever used the browser before)
// becomes theirs with the new keys.
// Errors: EUNAUTHENTICATED, EINVALID for a bad endpoint or keys, ENOTFOUND
// when this server offers no Web Push.
func (o *Offline) Subscribe(ctx context.Context, sub model.PushSubscription) error {
	u, err := signedIn(ctx)
	if err != nil {
		return err
	}
	if _, err := o.PushKey(); err != nil {
		return err
	}
	if err := o.checkSubscription(&sub); err != nil {
		return err
	}
	sub.ID, sub.UserID, sub.CreatedAt = 0, u.ID, o.now()
	err = o.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "endpoint"}},
		DoUpdates: clause.AssignmentColumns([]string{"user_id", "p256dh", "auth", "created_at"}),
	}).Create(&sub).Error
	return dbError(err)
}

// checkSubscription validates what a browser's PushSubscription gave.
func (o *Offline) checkSubscription(sub *model.PushSubscription) error {
	u, err := url.Parse(sub.Endpoint)
	if err != nil || u.Host == "" || len(sub.Endpoint) > 512 ||
		!(u.Scheme == "https" || u.Scheme == "http" && o.cfg.AllowInsecureEndpoints) {
		return model.Errorf(model.EINVALID, "endpoint must be an https URL of at most 512 bytes")
	}
	key, err := base64.RawURLEncoding.DecodeString(sub.P256DH)
	if err != nil || len(key) != 65 || key[0] != 4 {
		return model.Errorf(model.EINVALID, "keys.p256dh must be an uncompressed P-256 point, base64url")
	}
	auth, err := base64.RawURLEncoding.DecodeString(sub.Auth)
	if err != nil || len(auth) != 16 {
		return model.Errorf(model.EINVALID, "keys.auth must be 16 bytes, base64url")
	}
	return nil
}

// UnsubscribePush forgets the signed-in user's subscription of endpoint.
// Errors: EUNAUTHENTICATED, ENOTFOUND when they have none with it.
func (o *Offline) UnsubscribePush(ctx context.Context, endpoint string) error {
	u, err := signedIn(ctx)
	if err != nil {
		return err
	}
	res := o.db.WithContext(ctx).Where("user_id = ? AND endpoint = ?", u.ID, endpoint).Delete(&model.PushSubscription{})
	if res.Error != nil {
		return dbError(res.Error)
	}
	if res.RowsAffected == 0 {
		return model.Errorf(model.ENOTFOUND, "no such subscription")
	}
	return nil
}

// pushJob is a committed notification waiting to be pushed.
type pushJob struct {
	n      *model.Notification
	counts model.NotificationCounts
}

// Publisher returns next with pushes added: each notification published
// is also queued for the push workers (RunPush).
func (o *Offline) Publisher(next Publisher) Publisher {
	if o.cfg.Pusher == nil {
		return next
	}
	return &pushingPublisher{Publisher: next, o: o}
}

type pushingPublisher struct {
	Publisher
	o *Offline
}

func (p *pushingPublisher) PublishNotification(ctx context.Context, n *model.Notification, counts model.NotificationCounts) error {
	err := p.Publisher.PublishNotification(ctx, n, counts)
	select {
	case p.o.push <- pushJob{n: n, counts: counts}:
	default:
		p.o.dropped.Add(1) // logged by RunPush, once for many
	}
	return err
}

// droppedReport is how often RunPush logs the pushes the full queue
// refused.
const droppedReport = 10 * time.Second

// RunPush pushes queued notifications with workers goroutines until ctx
// ends.
func (o *Offline) RunPush(ctx context.Context, workers int) {
	if o.cfg.Pusher == nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(droppedReport)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n := o.dropped.Swap(0); n > 0 {
					o.log.WarnContext(ctx, "offline: push queue full; notifications not pushed", "dropped", n)
				}
			}
		}
	})
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-o.push:
					if err := o.pushOne(ctx, j.n, j.counts); err != nil && ctx.Err() == nil {
						o.log.WarnContext(ctx, "offline: push", "user_id", j.n.UserID, "error", err.Error())
					}
				}
			}
		})
	}
	wg.Wait()
}

// pushTimeout bounds the pushes of one notification.
const pushTimeout = 30 * time.Second

// pushOne sends n to every subscription of its user, unless the user has a
// connection open, switched push or n's type off, or has none.
func (o *Offline) pushOne(ctx context.Context, n *model.Notification, counts model.NotificationCounts) error {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	db := o.db.WithContext(ctx)
	// Subscriptions first: most users have none, and then one query is all
	// a notification of a fan-out to thousands costs here.
	var subs []*model.PushSubscription
	if err := db.Where("user_id = ?", n.UserID).Order("id").Find(&subs).Error; err != nil || len(subs) == 0 {
		return dbError(err)
	}
	prefs, err := preferencesRow(db, n.UserID)
	if err != nil || !prefs.PushEnabled || !prefs.TypeEnabled(n.Type) {
		return err
	}
	if on, err := o.connected(ctx, n.UserID); err != nil || on {
		return err
	}
	// The payload is the live frame, whose excerpt model.ExcerptOf made:
	// "[spoiler]" for a spoiler.
	payload, err := o.cfg.EncodePush(n, counts)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		gone, err := o.cfg.Pusher.Push(ctx, sub, payload)
		if gone {
			if err := db.Delete(&model.PushSubscription{}, sub.ID).Error; err != nil {
				return dbError(err)
			}
			continue
		}
		if err != nil {
			o.log.WarnContext(ctx, "offline: push not delivered", "user_id", n.UserID, "subscription", sub.ID, "error", err.Error())
		}
	}
	return nil
}

// PushKeys returns the VAPID key pair kept in the database (MySQL), making
// and keeping one on first use: every instance then signs with the key the
// browsers subscribed with. generate makes a pair (private, public).
func PushKeys(ctx context.Context, db *gorm.DB, generate func() (private, public string, err error)) (private, public string, err error) {
	type vapidKey struct {
		ID         int64 `gorm:"primaryKey;autoIncrement:false"`
		PrivateKey string
		PublicKey  string
		CreatedAt  time.Time
	}
	table := db.WithContext(ctx).Table("push_vapid_keys")
	var keys []vapidKey
	if err := table.Where("id = 1").Find(&keys).Error; err != nil {
		return "", "", dbError(err)
	}
	if len(keys) == 0 {
		priv, pub, err := generate()
		if err != nil {
			return "", "", err
		}
		// Two instances starting at once both try; the first row wins.
		err = db.WithContext(ctx).Table("push_vapid_keys").Clauses(clause.OnConflict{DoNothing: true}).
			Create(&vapidKey{ID: 1, PrivateKey: priv, PublicKey: pub, CreatedAt: Now()}).Error
		if err != nil {
			return "", "", dbError(err)
		}
		if err := db.WithContext(ctx).Table("push_vapid_keys").Where("id = 1").Find(&keys).Error; err != nil || len(keys) == 0 {
			return "", "", dbError(err)
		}
	}
	return keys[0].PrivateKey, keys[0].PublicKey, nil
}
