package service

import "gorm.io/gorm"

// Comments creates, lists, edits and deletes comments and replies.
type Comments struct {
	db    *gorm.DB
	notes *Notifications
	limit *RateLimiter
}

// NewComments returns the comments service. notes writes the notifications
// of a new comment in its transaction; limit throttles comment creation per
// user (nil: unlimited).
func NewComments(db *gorm.DB, notes *Notifications, limit *RateLimiter) *Comments {
	return &Comments{db: db, notes: notes, limit: limit}
}
