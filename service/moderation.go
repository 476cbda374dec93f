package service

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Moderation takes users' reports of posts and comments, hides what
// enough distinct users report, and keeps the moderators' queue and the
// log of what they did with it (moderation_queue.go).
//
// A report's transaction takes the locks of the package's order: the
// target's post (every writer of the thread queues there, so a comment or
// a hide cannot slip in between), the reporter's user row (which bounds
// their reports of a day exactly) and then the target comment. The report
// that brings a case to the threshold hides the target in that same
// transaction, withdrawing its notifications (setHidden); the users who
// lose unread ones hear their new counts after commit.
type Moderation struct {
	db    *gorm.DB
	notes *Notifications
	cfg   ModerationConfig
}

// ModerationConfig sets the thresholds of moderation.
type ModerationConfig struct {
	// HideAfterReports is how many distinct users' open reports hide a
	// post or comment.
	HideAfterReports int
	// ReportsPerDay is how many reports one user may make in 24 hours.
	ReportsPerDay int
	// Limiter throttles each user's reports (nil: unlimited).
	Limiter *RateLimiter
}

// NewModeration returns the moderation service; notes withdraws the
// notifications of what it hides and publishes the new counts.
func NewModeration(db *gorm.DB, notes *Notifications, cfg ModerationConfig) *Moderation {
	return &Moderation{db: db, notes: notes, cfg: cfg}
}

// ReportInput is a user's report of a post or comment.
type ReportInput struct {
	Reason string
	Note   string
}

// reportDay is the window of moderation.reports_per_day.
const reportDay = 24 * time.Hour

// Report records the signed-in user's report of the post or comment id
// (typ model.TargetPost or model.TargetComment). It joins the target's
// open case, or opens one, and the report that brings the case to
// HideAfterReports distinct reporters hides the target in the same
// transaction. Errors: EUNAUTHENTICATED; EINVALID naming reason or note;
// ENOTFOUND for missing, deleted or invisible content; EPERMISSION for
// one's own content or content already hidden; ECONFLICT when the user has
// reported it before; ERATELIMITED past the rate or the day's reports.
func (s *Moderation) Report(ctx context.Context, typ string, id int64, in ReportInput) (*model.Report, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !model.ValidReason(in.Reason) {
		return nil, model.Errorf(model.EINVALID, "reason must be spam, offensive, spoiler, off_topic or other")
	}
	note, err := model.Text("note", in.Note, 0, model.NoteMax)
	if err != nil {
		return nil, err
	}
	if err := allowUser(s.cfg.Limiter, actor.ID); err != nil {
		return nil, err
	}
	postID, authorID, err := postOfTarget(s.db.WithContext(ctx), typ, id)
	if err != nil {
		return nil, err
	}
	var r *model.Report
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		r, out = nil, Outbox{}
		t, err := s.lockReported(tx, actor, typ, id, postID, authorID)
		if err != nil {
			return err
		}
		kase, err := openCase(tx, t)
		if err != nil {
			return err
		}
		r = &model.Report{
			CaseID: kase.ID, TargetType: typ, TargetID: id, PostID: postID, ReporterID: actor.ID,
			Reason: in.Reason, Note: note, CreatedAt: Now(),
		}
		if err := tx.Create(r).Error; err != nil {
			return dbError(err)
		}
		kase.ReportCount++
		if err := tx.Model(kase).UpdateColumn("report_count", gorm.Expr("report_count + 1")).Error; err != nil {
			return dbError(err)
		}
		if kase.ReportCount < int64(s.cfg.HideAfterReports) || t.hidden() {
			return nil
		}
		if out, err = s.notes.setHidden(tx, t, true); err != nil {
			return err
		}
		return logAction(tx, kase, nil, model.ActionAutoHide)
	})
	if err != nil {
		return nil, err
	}
	s.notes.publish(ctx, out)
	return r, nil
}

// postOfTarget returns the post and the author of a report's target,
// which never change, so that a transaction can lock them in order.
// Errors: EINVALID for an unknown typ, ENOTFOUND.
func postOfTarget(db *gorm.DB, typ string, id int64) (postID, authorID int64, err error) {
	switch typ {
	case model.TargetPost:
		var p model.Post
		if err := db.Select("id", "author_id").Take(&p, id).Error; err != nil {
			return 0, 0, notFound(err, "post %d not found", id)
		}
		return p.ID, p.AuthorID, nil
	case model.TargetComment:
		var c model.Comment
		if err := db.Select("id", "post_id", "author_id").Take(&c, id).Error; err != nil {
			return 0, 0, notFound(err, "comment %d not found", id)
		}
		return c.PostID, c.AuthorID, nil
	}
	return 0, 0, model.Errorf(model.EINVALID, "target_type must be post or comment")
}

// lockReported takes, inside tx, the locks of a report by actor of target
// typ id in post postID, by authorID, in the package's order: the post,
// the rows of the reporter (which bounds their reports of a day) and of
// the author (whom the case row names), the comment. It checks every rule
// a report must pass but the case's. Errors: as Report's.
func (s *Moderation) lockReported(tx *gorm.DB, actor *model.User, typ string, id, postID, authorID int64) (*target, error) {
	var post model.Post
	if err := lockLivePost(tx, postID, &post); err != nil {
		if model.ErrorCode(err) == model.ENOTFOUND {
			// The post is gone, and a comment target with it.
			return nil, model.Errorf(model.ENOTFOUND, "%s %d not found", typ, id)
		}
		return nil, err
	}
	if !post.VisibleTo(actor) {
		return nil, model.Errorf(model.ENOTFOUND, "%s %d not found", typ, id)
	}
	t, err := lockTarget(tx, &post, typ, id, actor.ID, authorID)
	if err != nil {
		return nil, err
	}
	if t.deleted() {
		return nil, model.Errorf(model.ENOTFOUND, "%s %d not found", typ, id)
	}
	if typ == model.TargetComment {
		if err := writable(actor, "post", postID, post.AuthorID, post.Hidden); err != nil {
			return nil, err
		}
	}
	if err := writable(actor, typ, id, t.authorID(), t.hidden()); err != nil {
		return nil, err
	}
	if t.authorID() == actor.ID {
		return nil, model.Errorf(model.EPERMISSION, "you cannot report your own %s", typ)
	}
	var dup int64
	err = tx.Model(&model.Report{}).Where("target_type = ? AND target_id = ? AND reporter_id = ?", typ, id, actor.ID).
		Count(&dup).Error
	if err != nil {
		return nil, dbError(err)
	}
	if dup > 0 {
		return nil, model.Errorf(model.ECONFLICT, "you have reported %s %d already", typ, id)
	}
	return t, s.withinDay(tx, actor.ID)
}

// withinDay returns ERATELIMITED when userID has made ReportsPerDay
// reports in the last 24 hours, saying when the oldest of them leaves the
// window.
func (s *Moderation) withinDay(tx *gorm.DB, userID int64) error {
	now := Now()
	var times []time.Time
	err := tx.Model(&model.Report{}).Where("reporter_id = ? AND created_at > ?", userID, now.Add(-reportDay)).
		Order("created_at DESC").Limit(s.cfg.ReportsPerDay).Pluck("created_at", &times).Error
	if err != nil {
		return dbError(err)
	}
	if len(times) < s.cfg.ReportsPerDay {
		return nil
	}
	wait := times[len(times)-1].Add(reportDay).Sub(now)
	return &model.Error{
		Code:       model.ERATELIMITED,
		Message:    "at most " + strconv.Itoa(s.cfg.ReportsPerDay) + " reports a day; retry in " + wait.Round(time.Minute).String(),
		RetryAfter: wait,
	}
}

// openCase returns, inside tx, the open case of target t, opening one when
// there is none. The post's lock, held, makes it the only one.
func openCase(tx *gorm.DB, t *target) (*model.ReportCase, error) {
	var cases []*model.ReportCase
	err := tx.Where("target_type = ? AND target_id = ? AND status = ?", t.typ(), t.id(), model.CaseOpen).
		Limit(1).Find(&cases).Error
	if err != nil {
		return nil, dbError(err)
	}
	if len(cases) > 0 {
		return cases[0], nil
	}
	kase := &model.ReportCase{
		TargetType: t.typ(), TargetID: t.id(), PostID: t.post.ID, AuthorID: t.authorID(),
		Status: model.CaseOpen, CreatedAt: Now(),
	}
	return kase, dbError(tx.Create(kase).Error)
}

// logAction records, inside tx, what happened to case kase: by moderator
// (nil for the hiding by reports) with action.
func logAction(tx *gorm.DB, kase *model.ReportCase, moderator *model.User, action string) error {
	e := &model.ModerationEntry{
		CaseID: kase.ID, Action: action, TargetType: kase.TargetType, TargetID: kase.TargetID,
		PostID: kase.PostID, CreatedAt: Now(),
	}
	if moderator != nil {
		e.ModeratorID = &moderator.ID
	}
	return dbError(tx.Create(e).Error)
}
