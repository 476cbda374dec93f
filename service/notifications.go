package service

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Notifications is the signed-in user's side of notifications: listing,
// counting and marking their own, and an admin's system notification. It
// also writes, in the transactions of Posts and Comments, the notifications
// their changes cause (notifications_plan.go, notifications_write.go), and
// runs retention. The hub reads and marks any user's through Store.
//
// Each user's unread and unseen counts are stored with the user, and move
// in the transaction of every change to the rows they count
// (notifications_counts.go). The badge counts the notifications above the
// user's seen mark (users.notification_seen_id).
type Notifications struct {
	*notificationCore
	store *NotificationStore

	// retentionBatch is how many rows one retention statement deletes.
	retentionBatch int
	// fanoutWake wakes RunFanout when this instance committed an outbox
	// row; its buffer of one holds a wake-up that comes while it works.
	fanoutWake chan struct{}
}

// notificationCore is what Notifications and its NotificationStore share:
// the database, the publisher and its per-user order, and the one
// implementation of each per-user count, mark and publish.
type notificationCore struct {
	db  *gorm.DB
	pub Publisher
	log *slog.Logger

	// stripes serialise, per user, "take the counts, then publish" on this
	// instance (taken by a read, or known from the transaction, see
	// publishCount). Without them a count taken earlier could be published
	// after one taken later, and the user's badge would stay wrong until
	// the next change; with them the last count published for a user is
	// always one taken after every change that was published before it.
	stripes [publishStripes]publishStripe
}

// publishStripe is one of notificationCore's stripes.
type publishStripe struct {
	mu sync.Mutex
	// published moves on, under mu, each time counts of one of the
	// stripe's users are published. A count a transaction knew before
	// its commit (knownCounts) is published as it is only while this has
	// not moved since then; see publishCount.
	published atomic.Uint64
}

// NewNotifications returns the notifications service; pub is told about
// every change after it commits. Publish failures are discarded until
// WithLogger gives a logger.
func NewNotifications(db *gorm.DB, pub Publisher) *Notifications {
	if pub == nil {
		pub = NopPublisher{}
	}
	core := &notificationCore{db: db, pub: pub, log: slog.New(slog.DiscardHandler)}
	return &Notifications{notificationCore: core, store: &NotificationStore{notificationCore: core, prep: prepared(db)}, retentionBatch: 1000,
		fanoutWake: make(chan struct{}, 1)}
}

// WithLogger makes s and its store log publish and retention failures to
// logger, and returns s. Call it while wiring, before s is used.
func (s *Notifications) WithLogger(logger *slog.Logger) *Notifications {
	if logger != nil {
		s.log = logger
	}
	return s
}

// Store returns the hub's store of the same notifications.
func (s *Notifications) Store() *NotificationStore { return s.store }

// NotificationPage is one page of a user's notifications, newest first,
// with the user's unread and unseen counts whatever the filter, so a client
// refreshes its badge with the list.
type NotificationPage struct {
	Page[*model.Notification]
	model.NotificationCounts
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

// listing is where a page of the signed-in user's notifications starts:
// the user, the page size, the cursor (nil for the first page) and the
// user's head.
type listing struct {
	user  *model.User
	limit int
	after *cursor
	head  model.NotificationHead
}

// startListing checks the query of a list of the signed-in user's
// notifications in the order sort, whose cursors hold key, and reads the
// user's head. The page ends at the head, read first: a notification that
// commits while the page is read may be left out of it on MariaDB while
// the user's next one is in (see notify.Store), and a client taking the
// page's newest id as its since would never be sent the one left out. All
// that the head counts committed before the page is read.
// Errors: EUNAUTHENTICATED, EINVALID for a bad limit or cursor.
func (s *Notifications) startListing(ctx context.Context, q ListNotifications, sort string, key keyKind) (*listing, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, after, err := pageStart(q.Limit, q.Cursor, sort, key)
	if err != nil {
		return nil, err
	}
	head, err := s.store.NotificationHead(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &listing{user: u, limit: limit, after: after, head: head}, nil
}

// List returns a page of the signed-in user's notifications, newest first.
// Errors: EUNAUTHENTICATED, EINVALID for a bad limit or cursor.
func (s *Notifications) List(ctx context.Context, q ListNotifications) (*NotificationPage, error) {
	l, err := s.startListing(ctx, q, notificationsSort, noKey)
	if err != nil {
		return nil, err
	}
	u, limit, after, head := l.user, l.limit, l.after, l.head
	db := s.db.WithContext(ctx).Where("n.user_id = ? AND n.id <= ?", u.ID, head.LastID)
	if q.UnreadOnly {
		db = db.Where("n.is_read = ?", false)
	}
	if after != nil {
		db = db.Where("n.id < ?", after.ID)
	}
	rows, err := s.findWithActors(ctx, db.Order("n.id DESC").Limit(limit+1))
	if err != nil {
		return nil, err
	}
	page := newPage(rows, limit, func(n *model.Notification) cursor {
		return cursor{Sort: notificationsSort, ID: n.ID}
	})
	return &NotificationPage{Page: *page, NotificationCounts: head.Counts()}, nil
}

// UnreadCount returns the signed-in user's unread and unseen counts.
// Errors: EUNAUTHENTICATED.
func (s *Notifications) UnreadCount(ctx context.Context) (model.NotificationCounts, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return model.NotificationCounts{}, err
	}
	return s.counts(ctx, u.ID)
}

// MarkRead marks read the signed-in user's notifications that sel selects,
// publishes their new counts and returns them; ids that are not theirs are
// ignored (see markRead). Errors: EUNAUTHENTICATED, EINVALID for a bad
// selection.
func (s *Notifications) MarkRead(ctx context.Context, sel model.ReadSelection) (model.NotificationCounts, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return model.NotificationCounts{}, err
	}
	return s.markRead(ctx, u.ID, sel)
}

// MarkOneRead marks one of the signed-in user's notifications read; marking
// a read one again changes nothing. It returns the new counts.
// Errors: EUNAUTHENTICATED, ENOTFOUND when the notification is not the
// user's (another user's answers the same as a missing one).
func (s *Notifications) MarkOneRead(ctx context.Context, id int64) (model.NotificationCounts, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return model.NotificationCounts{}, err
	}
	var marked int64
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, []int64{u.ID}); err != nil {
			return err
		}
		q := tx.Model(&model.Notification{}).Where("id = ? AND user_id = ? AND is_read = ?", id, u.ID, false)
		if marked, err = markRows(tx, u.ID, q); err != nil || marked > 0 {
			return err
		}
		// Either already read, or not this user's.
		var n int64
		if err := tx.Model(&model.Notification{}).Where("id = ? AND user_id = ?", id, u.ID).Count(&n).Error; err != nil {
			return dbError(err)
		}
		if n == 0 {
			return model.Errorf(model.ENOTFOUND, "notification %d not found", id)
		}
		return nil
	})
	if err != nil {
		return model.NotificationCounts{}, err
	}
	if marked == 0 {
		return s.counts(ctx, u.ID)
	}
	return s.countsChanged(ctx, u.ID)
}

// MarkSeen moves the signed-in user's seen mark up to upToID: the badge
// then counts only their notifications with a larger id. The mark never
// moves back, and never past the user's newest notification up to upToID,
// so a client that names an id it has not been shown (or a huge one) does
// not hide notifications still to come. It publishes the new counts when
// the mark moved, so the user's other tabs and devices clear their badge
// too, and returns the unseen count.
// Errors: EUNAUTHENTICATED, EINVALID for an up_to_id below 1.
func (s *Notifications) MarkSeen(ctx context.Context, upToID int64) (int64, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return 0, err
	}
	if upToID <= 0 {
		return 0, model.Errorf(model.EINVALID, "up_to_id must be a positive integer")
	}
	var moved bool
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		moved = false
		seen, err := lockSeen(tx, []int64{u.ID})
		if err != nil {
			return err
		}
		// Plain reads after the lock, then an update by primary key: an
		// UPDATE reading notifications in a subquery would lock their index
		// range on MySQL.
		var mark int64
		err = tx.Model(&model.Notification{}).Select("COALESCE(MAX(id), 0)").
			Where("user_id = ? AND id <= ?", u.ID, upToID).Scan(&mark).Error
		if err != nil {
			return dbError(err)
		}
		from := seen[u.ID]
		if mark <= from {
			return nil
		}
		var passed int64
		err = tx.Model(&model.Notification{}).Where("user_id = ? AND id > ? AND id <= ?", u.ID, from, mark).
			Count(&passed).Error
		if err != nil {
			return dbError(err)
		}
		err = tx.Exec(`UPDATE users SET notification_seen_id = ?, unseen_notifications = unseen_notifications - ?
			WHERE id = ?`, mark, passed, u.ID).Error
		moved = err == nil
		return dbError(err)
	})
	if err != nil {
		return 0, err
	}
	var counts model.NotificationCounts
	if !moved {
		counts, err = s.counts(ctx, u.ID) // nothing changed, nothing to tell
	} else {
		counts, err = s.countsChanged(ctx, u.ID)
	}
	return counts.Unseen, err
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
		locked, err := lockUsers(tx, []int64{userID})
		if err != nil {
			return err
		}
		u, found := locked[userID]
		if !found {
			return model.Errorf(model.ENOTFOUND, "user %d not found", userID)
		}
		actorID := actor.ID
		out, err = s.write(tx, []recipient{{userID: userID, typ: model.NotifySystem, lockedUser: u}}, func(userID int64, typ string) *model.Notification {
			return &model.Notification{UserID: userID, Type: typ, ActorID: &actorID, Excerpt: message, Actor: model.AuthorOf(actor)}
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, out)
	return out.notifications[0], nil
}
