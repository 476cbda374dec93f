package model

import "time"

// Visible is the one rule of who sees hidden content: a post or comment
// held for review (hidden, by reports or by a moderator) is seen by its
// author, who is shown it with hidden true, and by moderators and admins;
// to everyone else it does not exist. Content that is not hidden is
// visible to all. Services apply it to what they read; the live thread
// applies it to what it sends (a hidden comment's events go to nobody but
// the viewers this admits).
func Visible(viewer *User, authorID int64, hidden bool) bool {
	return !hidden || viewer.CanModerate() || (viewer != nil && viewer.ID == authorID)
}

// SpoilerExcerpt is what notifications, mails and pushes show of a spoiler.
const SpoilerExcerpt = "[spoiler]"

// ExcerptOf is the excerpt of a post's or comment's body wherever it is
// shown out of its thread (notifications, mails, pushes): the start of the
// body, or SpoilerExcerpt for a spoiler, whose text is never shown there.
func ExcerptOf(body string, spoiler bool) string {
	if spoiler {
		return SpoilerExcerpt
	}
	return Excerpt(body)
}

// Report reasons.
const (
	ReasonSpam      = "spam"
	ReasonOffensive = "offensive"
	ReasonSpoiler   = "spoiler"
	ReasonOffTopic  = "off_topic"
	ReasonOther     = "other"
)

// ValidReason reports whether r is one of the report reasons.
func ValidReason(r string) bool {
	switch r {
	case ReasonSpam, ReasonOffensive, ReasonSpoiler, ReasonOffTopic, ReasonOther:
		return true
	}
	return false
}

// What a report is about.
const (
	TargetPost    = "post"
	TargetComment = "comment"
)

// Report case statuses and the actions that resolve a case; ActionAutoHide
// is the hiding by reports, which the moderation log records beside the
// moderators' actions but which resolves nothing.
const (
	CaseOpen       = "open"
	CaseResolved   = "resolved"
	ActionDismiss  = "dismiss"
	ActionHide     = "hide"
	ActionDelete   = "delete"
	ActionAutoHide = "auto_hide"
)

// NoteMax bounds the note of a report, in runes.
const NoteMax = 500

// Report is one user's report of a post or comment. A user reports a
// target once, ever; the reports of a target that are open at one time
// make one ReportCase.
type Report struct {
	ID         int64     `gorm:"primaryKey" json:"id"`
	CaseID     int64     `json:"-"`
	TargetType string    `json:"target_type"`
	TargetID   int64     `json:"target_id"`
	PostID     int64     `json:"post_id"`
	ReporterID int64     `json:"-"`
	Reason     string    `json:"reason"`
	Note       string    `json:"note"`
	CreatedAt  time.Time `json:"created_at"`
}

// ReportCase is one item of the moderators' queue: a reported target and
// its open reports (Status open), until a moderator resolves it. A target
// reported again after that opens a new case.
type ReportCase struct {
	ID          int64      `gorm:"primaryKey" json:"id"`
	TargetType  string     `json:"target_type"`
	TargetID    int64      `json:"target_id"`
	PostID      int64      `json:"post_id"`
	AuthorID    int64      `json:"-"`
	Status      string     `json:"status"`
	ReportCount int64      `json:"report_count"`
	Action      *string    `json:"action"`
	ResolvedBy  *int64     `json:"-"`
	ResolvedAt  *time.Time `json:"resolved_at"`
	CreatedAt   time.Time  `json:"created_at"`

	// Filled when listed: the distinct reasons given, most given first,
	// the target's excerpt (its text, which moderators must read, spoiler
	// or not), author and state, and who resolved the case.
	Reasons  []string `gorm:"-" json:"reasons"`
	Excerpt  string   `gorm:"-" json:"excerpt"`
	Author   *Author  `gorm:"-" json:"author"`
	Hidden   bool     `gorm:"-" json:"hidden"`
	Deleted  bool     `gorm:"-" json:"deleted"`
	Resolver *Author  `gorm:"-" json:"resolved_by"`
}

// ModerationEntry is one line of the moderation log: a case resolved by a
// moderator, or content hidden by reports (ModeratorID nil).
type ModerationEntry struct {
	ID          int64     `gorm:"primaryKey" json:"id"`
	CaseID      int64     `json:"report_id"`
	ModeratorID *int64    `json:"-"`
	Action      string    `json:"action"`
	TargetType  string    `json:"target_type"`
	TargetID    int64     `json:"target_id"`
	PostID      int64     `json:"post_id"`
	CreatedAt   time.Time `json:"created_at"`

	Moderator *Author `gorm:"-" json:"moderator"`
}

// TableName is the log's table.
func (ModerationEntry) TableName() string { return "moderation_log" }

// UserBlock records that UserID has blocked BlockedID: nothing BlockedID
// does notifies UserID, and their content is flagged in UserID's views.
type UserBlock struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	BlockedID int64
	CreatedAt time.Time
}

// BlockedUser is one entry of a user's list of blocks.
type BlockedUser struct {
	User      *Author   `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}
