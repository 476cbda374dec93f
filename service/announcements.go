package service

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Announcements keeps admin broadcasts and sends them to everyone online.
type Announcements struct {
	db  *gorm.DB
	pub Publisher
	log *slog.Logger
}

// NewAnnouncements returns the announcements service.
func NewAnnouncements(db *gorm.DB, pub Publisher, log *slog.Logger) *Announcements {
	return &Announcements{db: db, pub: pub, log: log}
}

// Broadcast keeps message as an announcement and then sends it to every
// connection on every instance. Only admins may. The announcement is kept
// even when sending fails, so users offline or missed still read it in the
// list. Errors: EPERMISSION, EINVALID.
func (s *Announcements) Broadcast(ctx context.Context, message string) (*model.Announcement, error) {
	actor := model.UserFrom(ctx)
	if !actor.IsAdmin() {
		return nil, model.Errorf(model.EPERMISSION, "only an admin may broadcast")
	}
	message, err := model.Text("message", message, 1, model.MessageMax)
	if err != nil {
		return nil, err
	}
	a := &model.Announcement{AuthorID: actor.ID, Message: message, CreatedAt: Now()}
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return nil, dbError(err)
	}
	if err := s.pub.PublishBroadcast(ctx, a); err != nil {
		s.log.WarnContext(ctx, "broadcast not delivered live; it is kept as an announcement", "announcement_id", a.ID, "error", err)
	}
	return a, nil
}

// List returns announcements, newest first. Errors: EINVALID for a bad
// cursor or limit.
func (s *Announcements) List(ctx context.Context, cursorText string, limit int) (*Page[*model.Announcement], error) {
	limit, after, err := pageStart(limit, cursorText, "announcements", noKey)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit + 1)
	if after != nil {
		q = q.Where("id < ?", after.ID)
	}
	var rows []*model.Announcement
	if err := q.Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	return newPage(rows, limit, func(a *model.Announcement) cursor {
		return cursor{Sort: "announcements", ID: a.ID}
	}), nil
}
