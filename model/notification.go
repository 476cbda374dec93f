package model

import "time"

// Notification types, in the contract's words.
const (
	NotifyPostComment  = "post_comment"
	NotifyCommentReply = "comment_reply"
	NotifyMention      = "mention"
	NotifySystem       = "system"
	// NotifyThreadComment tells a user watching a post of a new comment or
	// reply in it; it is written by the fan-out, after the comment commits.
	NotifyThreadComment = "thread_comment"
	NotifyLike          = "like"
)

// Notification tells one user that something happened. IDs grow
// monotonically, and for one recipient they commit in id order, so a client
// that remembers the largest id it has seen can resume from it.
//
// Seq numbers one recipient's notifications 1, 2, 3... in the order they
// commit (rows written before sequence numbers existed have their id).
// Ids tell a client where to resume; seq tells a hub that it has missed
// one: seq N arriving after N-2 means N-1 exists or was deleted.
type Notification struct {
	ID        int64     `gorm:"primaryKey" json:"id"`
	UserID    int64     `json:"-"`
	Seq       int64     `json:"-"`
	Type      string    `json:"type"`
	ActorID   *int64    `json:"-"`
	PostID    *int64    `json:"post_id"`
	CommentID *int64    `json:"comment_id"`
	Excerpt   string    `json:"excerpt"`
	Read      bool      `gorm:"column:is_read" json:"read"`
	CreatedAt time.Time `json:"created_at"`

	Actor *Author `gorm:"-" json:"actor"`
}

// NotificationCounts are the two figures of a user's bell: Unread, how many
// of their notifications are unread (the list shows which), and Unseen, how
// many are newer than their seen mark (the badge). The mark moves when the
// user opens the bell, not when they read, so the two differ.
type NotificationCounts struct {
	Unread int64 `json:"unread_count"`
	Unseen int64 `json:"unseen_count"`
}

// NotificationHead is where one user's notifications stood at one moment:
// Seq is the largest sequence number given out, LastID the largest id
// still stored, Unread how many are unread and Unseen how many are newer
// than the user's seen mark. Every notification of the user with a larger
// seq has a larger id than LastID.
type NotificationHead struct {
	Seq    int64
	LastID int64
	Unread int64
	Unseen int64
}

// Counts returns the head's unread and unseen counts.
func (h NotificationHead) Counts() NotificationCounts {
	return NotificationCounts{Unread: h.Unread, Unseen: h.Unseen}
}

// NotificationRange names one user's notifications with an id above
// AfterID and a sequence number up to UpToSeq: what a hub's connections of
// that user missed while its broker was away, read for many users at once.
type NotificationRange struct {
	UserID  int64
	AfterID int64
	UpToSeq int64
}

// MissedNotifications is what a NotificationRange found: List, oldest
// first, and Head, where the user stood at UpToSeq (Head.Seq is UpToSeq,
// Head.LastID the largest id in List, or 0).
type MissedNotifications struct {
	UserID int64
	Head   NotificationHead
	List   []*Notification
}
