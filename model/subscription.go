package model

import "time"

// Notification levels of a user on a post.
const (
	// LevelWatching: a thread_comment for every new comment and reply,
	// besides what is addressed to the user.
	LevelWatching = "watching"
	// LevelNormal: only what is addressed to the user.
	LevelNormal = "normal"
	// LevelMuted: no post_comment, comment_reply or thread_comment from the
	// post; mentions still arrive.
	LevelMuted = "muted"
)

// ValidLevel reports whether level is one of the three levels.
func ValidLevel(level string) bool {
	return level == LevelWatching || level == LevelNormal || level == LevelMuted
}

// PostSubscription is a user's level on a post when it is not the plain
// default normal: set by the user (Explicit), or the implicit watching of
// the post's author and of everyone who commented on it. No row means
// normal.
type PostSubscription struct {
	PostID    int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID    int64 `gorm:"primaryKey;autoIncrement:false"`
	Level     string
	Explicit  bool
	UpdatedAt time.Time
}

// Subscription is a user's level on one post, as the subscription routes
// answer it: Explicit says whether the user set it or it is the default.
type Subscription struct {
	Level    string `json:"level"`
	Explicit bool   `json:"explicit"`
}

// PostRef names a post in a list of something else.
type PostRef struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// SubscriptionItem is one entry of a user's list of subscriptions.
type SubscriptionItem struct {
	Post PostRef `json:"post"`
	Subscription
}

// FanoutOutbox is a comment whose watchers are still to be told, written
// in the comment's transaction. SkipUserIDs (comma-separated) are the users
// the comment already notified, who get no thread_comment from it; the
// watchers with ids up to AfterUserID are done.
type FanoutOutbox struct {
	ID          int64 `gorm:"primaryKey"`
	PostID      int64
	CommentID   int64
	ActorID     int64
	SkipUserIDs string
	AfterUserID int64
	CreatedAt   time.Time
}

// TableName is the outbox's table, named for what it feeds.
func (FanoutOutbox) TableName() string { return "fanout_outbox" }
