package model

import "time"

// Post is a discussion thread, optionally about one quiz problem. Posts are
// soft-deleted: DeletedAt set means the post is gone for everyone.
//
// The fields marked gorm:"-" are filled per viewer by the service and are not
// stored.
type Post struct {
	ID             int64      `gorm:"primaryKey" json:"id"`
	AuthorID       int64      `json:"-"`
	ProblemID      *int64     `json:"problem_id"`
	Title          string     `json:"title"`
	Body           string     `json:"body"`
	CommentCount   int64      `json:"comment_count"`
	LikeCount      int64      `json:"like_count"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastActivityAt time.Time  `json:"last_activity_at"`
	DeletedAt      *time.Time `json:"-"`
	// Spoiler marks a post that gives an answer away: its notifications'
	// excerpts say "[spoiler]" (see ExcerptOf) and clients blur its body.
	Spoiler bool `json:"spoiler"`
	// Hidden is set while the post is held for review (see Visible).
	Hidden bool `json:"hidden"`
	// LastCommentID is the id of the post's newest comment or reply,
	// deleted or not (0: none yet), moved under the post's row lock by
	// each new comment: the live thread's order (see ThreadEvent).
	LastCommentID int64 `json:"-"`

	// BodyHTML is Body rendered and sanitised when it was written (see the
	// service's bodies.go); BodyHTMLVersion is the renderer's version that
	// made it.
	BodyHTML        string `json:"body_html"`
	BodyHTMLVersion int    `json:"-"`

	Author *Author `gorm:"-" json:"author"`
	Liked  bool    `gorm:"-" json:"liked"`
	// Muted is Subscription == LevelMuted, kept for the clients of the
	// mute routes.
	Muted        bool   `gorm:"-" json:"muted"`
	Subscription string `gorm:"-" json:"subscription"`
	// AuthorBlocked says that the viewer has blocked the author.
	AuthorBlocked bool `gorm:"-" json:"author_blocked"`
}

// VisibleTo reports whether viewer may see p; see Visible.
func (p *Post) VisibleTo(viewer *User) bool { return Visible(viewer, p.AuthorID, p.Hidden) }

// Comment is a top-level comment on a post (ParentID and RootID nil) or a
// reply in the flat thread under one (RootID is that top-level comment,
// ParentID the comment replied to, ReplyToUserID its author).
type Comment struct {
	ID            int64      `gorm:"primaryKey" json:"id"`
	PostID        int64      `json:"post_id"`
	ParentID      *int64     `json:"parent_id"`
	RootID        *int64     `json:"root_id"`
	AuthorID      int64      `json:"-"`
	ReplyToUserID *int64     `json:"-"`
	Body          string     `json:"body"`
	LikeCount     int64      `json:"like_count"`
	ReplyCount    int64      `json:"reply_count"`
	CreatedAt     time.Time  `json:"created_at"`
	EditedAt      *time.Time `json:"edited_at"`
	DeletedAt     *time.Time `json:"-"`
	// Spoiler and Hidden are as on Post.
	Spoiler bool `json:"spoiler"`
	Hidden  bool `json:"hidden"`

	// BodyHTML and BodyHTMLVersion are as on Post.
	BodyHTML        string `json:"body_html"`
	BodyHTMLVersion int    `json:"-"`

	Author  *Author `gorm:"-" json:"author"`
	ReplyTo *Author `gorm:"-" json:"reply_to"`
	Liked   bool    `gorm:"-" json:"liked"`
	Deleted bool    `gorm:"-" json:"deleted"`
	// AuthorBlocked says that the viewer has blocked the author.
	AuthorBlocked bool `gorm:"-" json:"author_blocked"`
	// Replies is set only on the top-level comments of a thread listing,
	// where it is never nil and encodes as [] when empty; elsewhere it is
	// nil and omitted.
	Replies []*Comment `gorm:"-" json:"replies,omitzero"`
}

// VisibleTo reports whether viewer may see c itself (its post aside); see
// Visible.
func (c *Comment) VisibleTo(viewer *User) bool { return Visible(viewer, c.AuthorID, c.Hidden) }

// PostLike records that a user likes a post; the pair is the primary key.
type PostLike struct {
	PostID    int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID    int64 `gorm:"primaryKey;autoIncrement:false"`
	CreatedAt time.Time
}

// CommentLike records that a user likes a comment.
type CommentLike struct {
	CommentID int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID    int64 `gorm:"primaryKey;autoIncrement:false"`
	CreatedAt time.Time
}

// PostLikeNotice records that the author of a post has been told that a
// user likes it: a like notifies only when it inserts this row, and unlike
// keeps it, so each liker notifies the author of each item once, ever.
type PostLikeNotice struct {
	PostID int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID int64 `gorm:"primaryKey;autoIncrement:false"`
}

// CommentLikeNotice is PostLikeNotice for a comment.
type CommentLikeNotice struct {
	CommentID int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID    int64 `gorm:"primaryKey;autoIncrement:false"`
}

// Announcement is an admin broadcast, kept so that users who were offline
// can read it later.
type Announcement struct {
	ID        int64     `gorm:"primaryKey" json:"id"`
	AuthorID  int64     `json:"-"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// LikeState is the answer to a like or unlike.
type LikeState struct {
	LikeCount int64 `json:"like_count"`
	Liked     bool  `json:"liked"`
}
