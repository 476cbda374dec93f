package model

import "time"

// Notification types, in the contract's words.
const (
	NotifyPostComment  = "post_comment"
	NotifyCommentReply = "comment_reply"
	NotifyMention      = "mention"
	NotifySystem       = "system"
)

// Notification tells one user that something happened. IDs grow
// monotonically, and for one recipient they commit in id order, so a client
// that remembers the largest id it has seen can resume from it.
type Notification struct {
	ID        int64     `gorm:"primaryKey" json:"id"`
	UserID    int64     `json:"-"`
	Type      string    `json:"type"`
	ActorID   *int64    `json:"-"`
	PostID    *int64    `json:"post_id"`
	CommentID *int64    `json:"comment_id"`
	Excerpt   string    `json:"excerpt"`
	Read      bool      `gorm:"column:is_read" json:"read"`
	CreatedAt time.Time `json:"created_at"`

	Actor *Author `gorm:"-" json:"actor"`
}
