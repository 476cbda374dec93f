package service

import "gorm.io/gorm"

// Posts creates, lists, edits and deletes posts, and keeps likes and mutes.
type Posts struct {
	db    *gorm.DB
	notes *Notifications
	limit *RateLimiter
}

// NewPosts returns the posts service. notes writes the mention
// notifications of a new post in its transaction; limit throttles post
// creation per user (nil: unlimited).
func NewPosts(db *gorm.DB, notes *Notifications, limit *RateLimiter) *Posts {
	return &Posts{db: db, notes: notes, limit: limit}
}
