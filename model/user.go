package model

import (
	"context"
	"time"
)

// Roles a user can hold. Moderators and admins may edit and delete anyone's
// posts and comments; only admins reach the administration routes.
const (
	RoleUser      = "user"
	RoleModerator = "moderator"
	RoleAdmin     = "admin"
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool {
	return r == RoleUser || r == RoleModerator || r == RoleAdmin
}

// User is an account. Local accounts have a PasswordHash; accounts that
// arrived with a token from the quiz site's own issuer have Issuer and
// Subject instead and sign in only through that issuer.
type User struct {
	ID           int64   `gorm:"primaryKey" json:"id"`
	Username     string  `json:"username"`
	DisplayName  string  `json:"display_name"`
	PasswordHash *string `json:"-"`
	Role         string  `json:"role"`
	Issuer       *string `json:"-"`
	Subject      *string `json:"-"`
	// Locale is the language of the mail the user is sent: LocaleZhCN or
	// "" for English, from the locale claim of the quiz site's tokens.
	Locale    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// CanModerate reports whether u may edit or delete content of other users.
func (u *User) CanModerate() bool {
	return u != nil && (u.Role == RoleModerator || u.Role == RoleAdmin)
}

// IsAdmin reports whether u may use the administration routes.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// Author is the public face of a user embedded in posts, comments and
// notifications.
type Author struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// AuthorOf returns the author object of u.
func AuthorOf(u *User) *Author {
	if u == nil {
		return nil
	}
	return &Author{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName}
}

type userKey struct{}

// WithUser returns a context carrying the authenticated user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the authenticated user of ctx, or nil when there is none.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
