package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Users reads accounts and changes roles.
type Users struct {
	db *gorm.DB
}

// NewUsers returns the users service.
func NewUsers(db *gorm.DB) *Users { return &Users{db: db} }

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
	return s.Get(ctx, id)
}
