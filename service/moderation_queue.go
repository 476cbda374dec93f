package service

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// The moderators' side of moderation: the queue of report cases, their
// resolution, and the log of what moderators did. Reports and the hiding
// by reports are in moderation.go.

// ReportQuery selects a page of the moderators' queue.
type ReportQuery struct {
	Status string // model.CaseOpen (the default) or model.CaseResolved
	Limit  int    // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor string
}

// Queue returns a page of the report cases of a status, one per target:
// the open ones oldest first (the order to work through them), the
// resolved ones the latest resolution first. Only moderators and admins
// may. Errors: EUNAUTHENTICATED, EPERMISSION, EINVALID naming status,
// limit or cursor.
func (s *Moderation) Queue(ctx context.Context, q ReportQuery) (*Page[*model.ReportCase], error) {
	if _, err := moderator(ctx); err != nil {
		return nil, err
	}
	status := cmp.Or(q.Status, model.CaseOpen)
	if status != model.CaseOpen && status != model.CaseResolved {
		return nil, model.Errorf(model.EINVALID, "status must be open or resolved")
	}
	key := noKey
	if status == model.CaseResolved {
		key = timeKey
	}
	limit, after, err := pageStart(q.Limit, q.Cursor, "reports_"+status, key)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	// report_cases_status and report_cases_resolved serve the two orders.
	query := db.Where("status = ?", status)
	if status == model.CaseOpen {
		query = query.Order("id")
		if after != nil {
			query = query.Where("id > ?", after.ID)
		}
	} else {
		query = query.Order("resolved_at DESC").Order("id DESC")
		if after != nil {
			query = query.Where(keysetBefore("resolved_at", after.keyTime(), after.ID))
		}
	}
	var rows []*model.ReportCase
	if err := query.Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(c *model.ReportCase) cursor {
		k := cursor{Sort: "reports_" + status, ID: c.ID}
		if c.ResolvedAt != nil {
			k.Key = c.ResolvedAt.UnixMicro()
		}
		return k
	})
	return page, fillCases(db, page.Items)
}

// Resolve closes open case id with action: dismiss (the target is shown
// again if it was hidden; the notifications withdrawn when it was hidden
// are not sent again), hide or delete. The target, the case and the log
// entry change in one transaction, which locks the target's post first.
// Only moderators and admins may. Errors: EUNAUTHENTICATED, EPERMISSION,
// EINVALID naming action, ENOTFOUND, ECONFLICT for a resolved case.
func (s *Moderation) Resolve(ctx context.Context, id int64, action string) (*model.ReportCase, error) {
	mod, err := moderator(ctx)
	if err != nil {
		return nil, err
	}
	if action != model.ActionDismiss && action != model.ActionHide && action != model.ActionDelete {
		return nil, model.Errorf(model.EINVALID, "action must be dismiss, hide or delete")
	}
	db := s.db.WithContext(ctx)
	var kase model.ReportCase
	if err := db.Take(&kase, id).Error; err != nil {
		return nil, notFound(err, "report %d not found", id)
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		out = Outbox{}
		post, err := lockPostOf(tx, kase.TargetType, kase.TargetID, kase.PostID)
		if err != nil {
			return err
		}
		// The moderator's row, which the case and the log entry name.
		t, err := lockTarget(tx, post, kase.TargetType, kase.TargetID, mod.ID)
		if err != nil {
			return err
		}
		if err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Take(&kase, id).Error; err != nil {
			return dbError(err)
		}
		if kase.Status != model.CaseOpen {
			return model.Errorf(model.ECONFLICT, "report %d is resolved already", id)
		}
		switch {
		case t.deleted():
			// Deleted since it was reported: nothing left to act on.
		case action == model.ActionDelete && t.comment != nil:
			out, err = s.notes.removeComment(tx, t.comment)
		case action == model.ActionDelete:
			out, err = s.notes.removePost(tx, &t.post)
		default:
			out, err = s.notes.setHidden(tx, t, action == model.ActionHide)
		}
		if err != nil {
			return err
		}
		now := Now()
		kase.Status, kase.Action, kase.ResolvedBy, kase.ResolvedAt = model.CaseResolved, &action, &mod.ID, &now
		err = tx.Model(&kase).UpdateColumns(map[string]any{
			"status": kase.Status, "action": action, "resolved_by": mod.ID, "resolved_at": now,
		}).Error
		if err != nil {
			return dbError(err)
		}
		return logAction(tx, &kase, mod, action)
	})
	if err != nil {
		return nil, err
	}
	s.notes.publish(ctx, out)
	return &kase, fillCases(db, []*model.ReportCase{&kase})
}

// Log returns a page of the moderation log, newest first. Only admins may.
// Errors: EUNAUTHENTICATED, EPERMISSION, EINVALID for a bad limit or
// cursor.
func (s *Moderation) Log(ctx context.Context, limit int, cursorText string) (*Page[*model.ModerationEntry], error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsAdmin() {
		return nil, model.Errorf(model.EPERMISSION, "only an admin may read the moderation log")
	}
	limit, after, err := pageStart(limit, cursorText, "moderation_log", noKey)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	q := db.Order("id DESC").Limit(limit + 1)
	if after != nil {
		q = q.Where("id < ?", after.ID)
	}
	var rows []*model.ModerationEntry
	if err := q.Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(e *model.ModerationEntry) cursor { return cursor{Sort: "moderation_log", ID: e.ID} })
	var ids []int64
	for _, e := range page.Items {
		if e.ModeratorID != nil {
			ids = append(ids, *e.ModeratorID)
		}
	}
	authors, err := fetchAuthors(db, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range page.Items {
		if e.ModeratorID != nil {
			e.Moderator = authors[*e.ModeratorID]
		}
	}
	return page, nil
}

// moderator returns the signed-in user when they are a moderator or an
// admin. Errors: EUNAUTHENTICATED, EPERMISSION.
func moderator(ctx context.Context) (*model.User, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !u.CanModerate() {
		return nil, model.Errorf(model.EPERMISSION, "only a moderator or an admin may review reports")
	}
	return u, nil
}

// fillCases sets what the queue shows of each case: its reasons, most
// given first, and its target's excerpt, author and state, and who
// resolved it; one query for each, whatever the number of cases.
func fillCases(db *gorm.DB, cases []*model.ReportCase) error {
	if len(cases) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(cases))
	var postIDs, commentIDs, userIDs []int64
	for _, c := range cases {
		ids = append(ids, c.ID)
		userIDs = append(userIDs, c.AuthorID)
		if c.ResolvedBy != nil {
			userIDs = append(userIDs, *c.ResolvedBy)
		}
		if c.TargetType == model.TargetPost {
			postIDs = append(postIDs, c.TargetID)
		} else {
			commentIDs = append(commentIDs, c.TargetID)
		}
	}
	var reasons []struct {
		CaseID int64
		Reason string
		N      int64
	}
	err := db.Model(&model.Report{}).Select("case_id, reason, COUNT(*) AS n").Where("case_id IN ?", ids).
		Group("case_id, reason").Scan(&reasons).Error
	if err != nil {
		return dbError(err)
	}
	slices.SortFunc(reasons, func(a, b struct {
		CaseID int64
		Reason string
		N      int64
	}) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Reason, b.Reason))
	})
	byCase := map[int64][]string{}
	for _, r := range reasons {
		byCase[r.CaseID] = append(byCase[r.CaseID], r.Reason)
	}
	var posts []*model.Post
	if len(postIDs) > 0 {
		if err := db.Select("id", "title", "body", "hidden", "deleted_at").Where("id IN ?", postIDs).Find(&posts).Error; err != nil {
			return dbError(err)
		}
	}
	var comments []*model.Comment
	if len(commentIDs) > 0 {
		if err := db.Select("id", "body", "hidden", "deleted_at").Where("id IN ?", commentIDs).Find(&comments).Error; err != nil {
			return dbError(err)
		}
	}
	type state struct {
		excerpt         string
		hidden, deleted bool
	}
	targets := map[string]state{}
	for _, p := range posts {
		targets["post:"+strconv.FormatInt(p.ID, 10)] = state{model.Excerpt(p.Title + "\n" + p.Body), p.Hidden, p.DeletedAt != nil}
	}
	for _, c := range comments {
		targets["comment:"+strconv.FormatInt(c.ID, 10)] = state{model.Excerpt(c.Body), c.Hidden, c.DeletedAt != nil}
	}
	authors, err := fetchAuthors(db, userIDs)
	if err != nil {
		return err
	}
	for _, c := range cases {
		c.Reasons = append([]string{}, byCase[c.ID]...)
		st := targets[c.TargetType+":"+strconv.FormatInt(c.TargetID, 10)]
		c.Excerpt, c.Hidden, c.Deleted = st.excerpt, st.hidden, st.deleted
		c.Author = authors[c.AuthorID]
		if c.ResolvedBy != nil {
			c.Resolver = authors[*c.ResolvedBy]
		}
	}
	return nil
}
