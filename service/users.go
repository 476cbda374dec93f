package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Users reads accounts and changes roles.
type Users struct {
	db  *gorm.DB
	pub Publisher
}

// NewUsers returns the users service; pub is told of every role change, so
// that no instance goes on authorising with a cached copy of the user.
func NewUsers(db *gorm.DB, pub Publisher) *Users { return &Users{db: db, pub: pub} }

// Get returns the user with the given id. Errors: ENOTFOUND.
func (s *Users) Get(ctx context.Context, id int64) (*model.User, error) {
	var u model.User
	if err := s.db.WithContext(ctx).Take(&u, id).Error; err != nil {
		return nil, notFound(err, "user %d not found", id)
	}
	return &u, nil
}

// SetRole gives user id the role; only an admin may. An admin cannot demote
// themself, so that a site never loses its last admin by accident.
// Errors: EPERMISSION, EINVALID, ENOTFOUND.
func (s *Users) SetRole(ctx context.Context, id int64, role string) (*model.User, error) {
	actor := model.UserFrom(ctx)
	if !actor.IsAdmin() {
		return nil, model.Errorf(model.EPERMISSION, "only an admin may change roles")
	}
	if !model.ValidRole(role) {
		return nil, model.Errorf(model.EINVALID, "role must be user, moderator or admin")
	}
	if id == actor.ID && role != model.RoleAdmin {
		return nil, model.Errorf(model.EINVALID, "role: an admin cannot demote themself")
	}
	res := s.db.WithContext(ctx).Model(&model.User{}).Where("id = ?", id).Update("role", role)
	if res.Error != nil {
		return nil, dbError(res.Error)
	}
	if res.RowsAffected > 0 {
		// A failed publish still reached this instance (the hub delivers
		// locally when the broker refuses); the others apply the change
		// when their cached copy expires.
		_ = s.pub.PublishUserChanged(context.WithoutCancel(ctx), id)
	}
	return s.Get(ctx, id)
}
