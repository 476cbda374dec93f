package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

// fakeStore is an in-memory Store. add is the "commit": it assigns ids and
// per-user sequence numbers in order under the lock, so one user's
// notifications commit in id and seq order as the real store promises.
type fakeStore struct {
	mu     sync.Mutex
	lastID int64
	seqs   map[int64]int64
	byUser map[int64][]*model.Notification
	// seen is each user's seen mark: the badge counts the ids above it.
	seen  map[int64]int64
	marks []markCall
	// pub receives the counts after MarkRead, as the service would.
	pub atomic.Pointer[Hub]
	// fail makes every call fail, as a database that is down.
	fail atomic.Bool

	afterCalls atomic.Int64
	// missedCalls counts MissedNotifications calls, and missedRanges the
	// ranges they asked for; failMissed makes those calls alone fail.
	missedCalls, missedRanges atomic.Int64
	failMissed                atomic.Bool
	// failed counts the calls that failed because of fail.
	failed atomic.Int64
	// unknownUser, when not 0, is a user the store does not have: its
	// head is an ENOTFOUND error, as the service's.
	unknownUser atomic.Int64

	// afterHead, when set, runs once after the next NotificationHead:
	// what it commits lands between a head and the list read after it.
	afterHead atomic.Pointer[func()]
	// hidden holds ids that list reads leave out until they are shown
	// again, as a MariaDB read can leave out a transaction that commits
	// while the read takes its snapshot yet show the one after it.
	hidden map[int64]bool

	// threads is the live thread's side of the store.
	threads fakeThreads
}

type markCall struct {
	userID int64
	ids    []int64
	upToID int64
}

var errStoreDown = errors.New("store down")

// down reports whether the store fails now, counting the failed call.
func (s *fakeStore) down() bool {
	if !s.fail.Load() {
		return false
	}
	s.failed.Add(1)
	return true
}

func newFakeStore() *fakeStore {
	return &fakeStore{seqs: make(map[int64]int64), byUser: make(map[int64][]*model.Notification), seen: make(map[int64]int64), hidden: make(map[int64]bool)}
}

// hide has list reads leave out id (true) or show it again (false).
func (s *fakeStore) hide(id int64, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hidden[id] = hidden
}

// add commits a new unread notification for userID and returns a copy of
// it and the user's counts.
func (s *fakeStore) add(userID int64) (*model.Notification, model.NotificationCounts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	s.seqs[userID]++
	post := int64(7)
	n := &model.Notification{
		ID:        s.lastID,
		UserID:    userID,
		Seq:       s.seqs[userID],
		Type:      model.NotifyCommentReply,
		PostID:    &post,
		Excerpt:   fmt.Sprintf("reply %d", s.lastID),
		CreatedAt: time.Now().UTC(),
		Actor:     &model.Author{ID: 99, Username: "bob", DisplayName: "Bob"},
	}
	s.byUser[userID] = append(s.byUser[userID], n)
	return clone(n), s.countsLocked(userID)
}

// see moves userID's seen mark up to upToID, as POST /notifications/seen
// does.
func (s *fakeStore) see(userID, upToID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[userID] = max(s.seen[userID], upToID)
}

// addN commits count new unread notifications for userID.
func (s *fakeStore) addN(userID int64, count int) {
	for range count {
		s.add(userID)
	}
}

// addAndPublish commits a notification and publishes it through h, as the
// service does after commit.
func (s *fakeStore) addAndPublish(t testing.TB, h *Hub, userID int64) *model.Notification {
	n, counts := s.add(userID)
	if err := h.PublishNotification(context.Background(), n, counts); err != nil {
		t.Errorf("publish %d: %v", n.ID, err)
	}
	return n
}

// remove deletes a notification, as deleting its comment does.
func (s *fakeStore) remove(n *model.Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byUser[n.UserID] = slices.DeleteFunc(s.byUser[n.UserID], func(m *model.Notification) bool { return m.ID == n.ID })
}

func clone(n *model.Notification) *model.Notification {
	c := *n
	return &c
}

func (s *fakeStore) maxID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastID
}

// idsBetween returns the user's ids in (lo, hi].
func (s *fakeStore) idsBetween(userID, lo, hi int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for _, n := range s.byUser[userID] {
		if n.ID > lo && n.ID <= hi {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func (s *fakeStore) unreadLocked(userID int64) int64 {
	return s.countsLocked(userID).Unread
}

func (s *fakeStore) countsLocked(userID int64) model.NotificationCounts {
	var c model.NotificationCounts
	for _, n := range s.byUser[userID] {
		if !n.Read {
			c.Unread++
		}
		if n.ID > s.seen[userID] {
			c.Unseen++
		}
	}
	return c
}

func (s *fakeStore) NotificationHead(_ context.Context, userID int64) (model.NotificationHead, error) {
	if s.down() {
		return model.NotificationHead{}, errStoreDown
	}
	if userID == s.unknownUser.Load() {
		return model.NotificationHead{}, model.Errorf(model.ENOTFOUND, "user %d does not exist", userID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := s.countsLocked(userID)
	head := model.NotificationHead{Seq: s.seqs[userID], Unread: counts.Unread, Unseen: counts.Unseen}
	if list := s.byUser[userID]; len(list) > 0 {
		head.LastID = list[len(list)-1].ID
	}
	if f := s.afterHead.Swap(nil); f != nil {
		s.mu.Unlock()
		(*f)()
		s.mu.Lock()
	}
	return head, nil
}

func (s *fakeStore) NotificationSeqs(_ context.Context, userIDs []int64) (map[int64]int64, error) {
	if s.down() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]int64, len(userIDs))
	for _, id := range userIDs {
		out[id] = s.seqs[id]
	}
	return out, nil
}

func (s *fakeStore) NotificationsAfter(_ context.Context, userID, afterID int64, limit int) ([]*model.Notification, error) {
	s.afterCalls.Add(1)
	return s.list(userID, limit, func(n *model.Notification) bool { return n.ID > afterID })
}

func (s *fakeStore) MissedNotifications(_ context.Context, ranges []model.NotificationRange) ([]model.MissedNotifications, error) {
	s.missedCalls.Add(1)
	s.missedRanges.Add(int64(len(ranges)))
	if s.down() || s.failMissed.Load() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]model.MissedNotifications, 0, len(ranges))
	for _, r := range ranges {
		counts := s.countsLocked(r.UserID)
		m := model.MissedNotifications{UserID: r.UserID, Head: model.NotificationHead{Seq: r.UpToSeq, Unread: counts.Unread, Unseen: counts.Unseen}}
		for _, n := range s.byUser[r.UserID] {
			if n.ID > r.AfterID && n.Seq <= r.UpToSeq {
				m.List = append(m.List, clone(n))
				m.Head.LastID = n.ID
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *fakeStore) UnreadNotifications(_ context.Context, userID int64, limit int) ([]*model.Notification, error) {
	return s.list(userID, limit, func(n *model.Notification) bool { return !n.Read })
}

// list returns copies of the user's notifications that keep accepts,
// oldest first, at most limit, or errStoreDown while the store fails.
func (s *fakeStore) list(userID int64, limit int, keep func(*model.Notification) bool) ([]*model.Notification, error) {
	if s.down() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*model.Notification
	for _, n := range s.byUser[userID] {
		if keep(n) && !s.hidden[n.ID] && len(out) < limit {
			out = append(out, clone(n))
		}
	}
	return out, nil
}

func (s *fakeStore) UnreadCount(_ context.Context, userID int64) (int64, error) {
	if s.down() {
		return 0, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreadLocked(userID), nil
}

func (s *fakeStore) MarkRead(ctx context.Context, userID int64, ids []int64, upToID int64) (int64, error) {
	if s.down() {
		return 0, errStoreDown
	}
	s.mu.Lock()
	s.marks = append(s.marks, markCall{userID: userID, ids: slices.Clone(ids), upToID: upToID})
	for _, n := range s.byUser[userID] {
		if slices.Contains(ids, n.ID) || (upToID > 0 && n.ID <= upToID) {
			n.Read = true
		}
	}
	counts := s.countsLocked(userID)
	s.mu.Unlock()
	if h := s.pub.Load(); h != nil {
		_ = h.PublishUnreadCount(ctx, userID, counts)
	}
	return counts.Unread, nil
}

func (s *fakeStore) markCalls() []markCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.marks)
}
