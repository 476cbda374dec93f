package service

import (
	"cmp"
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/markdown"
)

// Posts creates, lists, edits and deletes posts, and keeps likes and each
// user's notification level on each (subscriptions.go).
// Its writers keep the package's lock order (see the package doc).
type Posts struct {
	likes // Like and Unlike
	db    *gorm.DB
	notes *Notifications
	limit *RateLimiter
	html  bodies // renders body_html
}

// NewPosts returns the posts service. notes writes the mention
// notifications of a new post in its transaction; limit throttles post
// creation per user (nil: unlimited).
func NewPosts(db *gorm.DB, notes *Notifications, limit *RateLimiter) *Posts {
	s := &Posts{db: db, notes: notes, limit: limit, html: newBodies(db)}
	s.likes = likes{db: db, notes: notes, counter: postLikes, row: newPostLike, lock: s.lockToLike}
	return s
}

// Post list orders.
const (
	PostsNew    = "new"    // newest first
	PostsActive = "active" // latest comment (or creation) first
	PostsTop    = "top"    // most likes first
)

// PostInput is a new post.
type PostInput struct {
	Title     string
	Body      string
	ProblemID *int64
	Spoiler   bool
}

// PostPatch edits a post; nil fields stay as they are.
type PostPatch struct {
	Title   *string
	Body    *string
	Spoiler *bool
}

// PostQuery selects a page of posts. Nil filters select every post.
type PostQuery struct {
	ProblemID *int64
	AuthorID  *int64
	Sort      string // PostsNew (the default), PostsActive or PostsTop
	Limit     int    // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor    string
}

// Create writes a post by the signed-in user, with its mention
// notifications in the same transaction, and publishes them after commit.
// Errors: EUNAUTHENTICATED, EINVALID naming the field, ERATELIMITED.
func (s *Posts) Create(ctx context.Context, in PostInput) (*model.Post, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	title, err := model.Text("title", in.Title, 1, model.TitleMax)
	if err != nil {
		return nil, err
	}
	body, err := model.Text("body", in.Body, 1, model.PostBodyMax)
	if err != nil {
		return nil, err
	}
	if in.ProblemID != nil && *in.ProblemID <= 0 {
		return nil, model.Errorf(model.EINVALID, "problem_id must be a positive integer")
	}
	if err := allowUser(s.limit, actor.ID); err != nil {
		return nil, err
	}
	html, err := s.html.render(ctx, body)
	if err != nil {
		return nil, err
	}
	var p *model.Post
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		plan, err := s.notes.planPost(tx, actor, body)
		if err != nil {
			return err
		}
		now := Now()
		p = &model.Post{
			AuthorID: actor.ID, ProblemID: in.ProblemID, Title: title, Body: body, Spoiler: in.Spoiler,
			BodyHTML: html, BodyHTMLVersion: markdown.Version,
			CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
		}
		if err := tx.Create(p).Error; err != nil {
			return dbError(err)
		}
		if err := watchImplicitly(tx, p.ID, actor.ID); err != nil {
			return err
		}
		out, err = s.notes.postCreated(tx, plan, actor, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notes.publish(ctx, out)
	p.Author = model.AuthorOf(actor)
	p.Subscription = model.LevelWatching // its author's default
	return p, nil
}

// Get returns a post as the signed-in user sees it. Errors: ENOTFOUND, also
// for a deleted post and a hidden one the user may not see.
func (s *Posts) Get(ctx context.Context, id int64) (*model.Post, error) {
	return s.view(s.db.WithContext(ctx), id, model.UserFrom(ctx))
}

// view returns post id as viewer sees it; a nil viewer is a reader who has
// liked nothing and set no level on it, to whom hidden posts are not
// shown. Errors: ENOTFOUND.
func (s *Posts) view(db *gorm.DB, id int64, viewer *model.User) (*model.Post, error) {
	var p model.Post
	if err := db.Where("deleted_at IS NULL").Take(&p, id).Error; err != nil {
		return nil, notFound(err, "post %d not found", id)
	}
	if !p.VisibleTo(viewer) {
		return nil, model.Errorf(model.ENOTFOUND, "post %d not found", id)
	}
	if err := fillPosts(db, viewer, []*model.Post{&p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// List returns a page of live posts, without the hidden ones the
// signed-in user may not see. The walk is exact for PostsNew: ids
// never change, so every post that existed when the walk began is seen once.
// PostsActive and PostsTop sort by a key that changes while a client walks
// (a new comment, a like); the cursor holds the key and id of the last post
// seen, so a post whose key moves past the cursor meanwhile may be missed or
// seen twice, and every other post is seen exactly once.
// Errors: EINVALID naming sort, limit or cursor.
func (s *Posts) List(ctx context.Context, q PostQuery) (*Page[*model.Post], error) {
	if q.Sort == "" {
		q.Sort = PostsNew
	}
	var keyCol string
	var key keyKind
	switch q.Sort {
	case PostsNew:
	case PostsActive:
		keyCol, key = "last_activity_at", timeKey
	case PostsTop:
		keyCol, key = "like_count", countKey
	default:
		return nil, model.Errorf(model.EINVALID, "sort must be new, active or top")
	}
	limit, after, err := pageStart(q.Limit, q.Cursor, q.Sort, key)
	if err != nil {
		return nil, err
	}

	db := s.db.WithContext(ctx)
	// Each filter and order has an index: posts_author, posts_problem_* and
	// posts_active / posts_top, the last two read backwards.
	viewer := model.UserFrom(ctx)
	shown, shownArgs := shownTo(viewer, "posts")
	query := db.Where("deleted_at IS NULL").Where(shown, shownArgs...)
	if q.ProblemID != nil {
		query = query.Where("problem_id = ?", *q.ProblemID)
	}
	if q.AuthorID != nil {
		query = query.Where("author_id = ?", *q.AuthorID)
	}
	if keyCol == "" {
		query = query.Order("id DESC")
		if after != nil {
			query = query.Where("id < ?", after.ID)
		}
	} else {
		query = query.Order(keyCol + " DESC").Order("id DESC")
		if after != nil {
			var at any = after.Key
			if key == timeKey {
				at = after.keyTime()
			}
			query = query.Where(keysetBefore(keyCol, at, after.ID))
		}
	}
	var rows []*model.Post
	if err := query.Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	page := newPage(rows, limit, func(p *model.Post) cursor {
		c := cursor{Sort: q.Sort, ID: p.ID}
		switch q.Sort {
		case PostsActive:
			c.Key = p.LastActivityAt.UnixMicro()
		case PostsTop:
			c.Key = p.LikeCount
		}
		return c
	})
	if err := fillPosts(db, viewer, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

// Update edits the title, body or spoiler flag of a post; its author,
// moderators and admins may. A change of the flag rewrites, in the same
// transaction, the excerpts of the notifications that quote the post's
// body (see rewriteExcerpts).
// Errors: EINVALID naming the field, ENOTFOUND, EPERMISSION.
func (s *Posts) Update(ctx context.Context, id int64, in PostPatch) (*model.Post, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if in.Title == nil && in.Body == nil && in.Spoiler == nil {
		return nil, model.Errorf(model.EINVALID, "title, body or spoiler is required")
	}
	var title string
	if in.Title != nil {
		if title, err = model.Text("title", *in.Title, 1, model.TitleMax); err != nil {
			return nil, err
		}
	}
	edit, err := newTextEdit("updated_at", in.Body, model.PostBodyMax, in.Spoiler)
	if err != nil {
		return nil, err
	}
	if in.Title != nil {
		edit.changes["title"] = title
	}
	// Checked before the body is rendered, outside the transaction; the
	// transaction checks again under the post's lock what may have changed
	// since (a post deleted or hidden meanwhile).
	p, err := livePost(s.db.WithContext(ctx), actor, id)
	if err != nil {
		return nil, err
	}
	if err := mayModify(actor, p, "edit"); err != nil {
		return nil, err
	}
	if err := edit.render(ctx, s.html); err != nil {
		return nil, err
	}
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		var p model.Post
		if err := lockVisiblePost(tx, id, actor, &p); err != nil {
			return err
		}
		return edit.write(tx, &p, p.Body, p.Spoiler, "post_id = ? AND comment_id IS NULL", id)
	})
	if err != nil {
		return nil, err
	}
	// A hidden post is not shown to readers: view finds none to publish.
	if seen, err := s.view(s.db.WithContext(ctx), id, nil); err == nil {
		s.notes.publishThread(ctx, &model.ThreadEvent{Type: model.ThreadPostUpdated, PostID: id, Post: seen})
	}
	return s.Get(ctx, id)
}

// lockVisiblePost locks live post id into p (lockLivePost) inside tx and
// checks that actor may see it: to actor, a post hidden from them is as
// absent as a deleted one. Errors: ENOTFOUND.
func lockVisiblePost(tx *gorm.DB, id int64, actor *model.User, p *model.Post) error {
	if err := lockLivePost(tx, id, p); err != nil {
		return err
	}
	if !p.VisibleTo(actor) {
		return model.Errorf(model.ENOTFOUND, "post %d not found", id)
	}
	return nil
}

// Delete soft-deletes a post; its author, moderators and admins may. In the
// same transaction the notifications that point into it go, and from then
// on the post and its comments answer ENOTFOUND to everyone.
// Errors: ENOTFOUND, EPERMISSION.
func (s *Posts) Delete(ctx context.Context, id int64) error {
	actor, err := signedIn(ctx)
	if err != nil {
		return err
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		var p model.Post
		if err := lockVisiblePost(tx, id, actor, &p); err != nil {
			return err
		}
		if err := mayModify(actor, &p, "delete"); err != nil {
			return err
		}
		var err error
		out, err = s.notes.removePost(tx, &p)
		return err
	})
	if err != nil {
		return err
	}
	s.notes.publish(ctx, out)
	return nil
}

// removePost soft-deletes post p, locked, inside tx, and removes the
// notifications that point into it.
func (s *Notifications) removePost(tx *gorm.DB, p *model.Post) (Outbox, error) {
	if err := tx.Model(p).UpdateColumn("deleted_at", Now()).Error; err != nil {
		return Outbox{}, dbError(err)
	}
	out, err := s.postDeleted(tx, p.ID)
	if err == nil && !p.Hidden { // a hidden one's followers were told when it was hidden
		out.threads = append(out.threads, postGone(p.ID))
	}
	return out, err
}

// postGone is the live-thread event of post id deleted or hidden: its
// subscriptions end.
func postGone(id int64) *model.ThreadEvent {
	return &model.ThreadEvent{Type: model.ThreadPostDeleted, PostID: id}
}

// mayModify returns nil when actor may edit or delete post p (verb says
// which, for the message). Errors: EPERMISSION.
func mayModify(actor *model.User, p *model.Post, verb string) error {
	if p.AuthorID != actor.ID && !actor.CanModerate() {
		return model.Errorf(model.EPERMISSION, "only the author, a moderator or an admin may %s post %d", verb, p.ID)
	}
	return nil
}

// newPostLike returns the like of post id by userID.
func newPostLike(id, userID int64) any {
	return &model.PostLike{PostID: id, UserID: userID, CreatedAt: Now()}
}

// lockToLike locks post id, the first lock of the lock order, then, for a
// like, the user rows of actor and of the post's author (planLike), and
// returns what the like needs of the post. Errors: ENOTFOUND, EPERMISSION
// for a hidden post (see writable).
func (s *Posts) lockToLike(tx *gorm.DB, id int64, actor *model.User, liking bool) (likeTarget, error) {
	var p model.Post
	if err := lockLivePost(tx, id, &p); err != nil {
		return likeTarget{}, err
	}
	if err := writable(actor, "post", id, p.AuthorID, p.Hidden); err != nil {
		return likeTarget{}, err
	}
	t := likeTarget{count: p.LikeCount, postID: id}
	if !liking {
		return t, nil
	}
	plan, err := s.notes.planLike(tx, actor, p.AuthorID, liking)
	if err != nil {
		return likeTarget{}, err
	}
	t.plan, t.notice = plan, &model.PostLikeNotice{PostID: id, UserID: actor.ID}
	t.excerpt = model.ExcerptOf(p.Body, p.Spoiler)
	return t, nil
}

// fillPosts sets the author, the viewer's liked flag, the viewer's level
// (subscription, and muted with it) and the viewer's block of the author
// of posts: one query for each, whatever the number of posts.
func fillPosts(db *gorm.DB, viewer *model.User, posts []*model.Post) error {
	if len(posts) == 0 {
		return nil
	}
	ids := make([]int64, len(posts))
	authorIDs := make([]int64, len(posts))
	for i, p := range posts {
		ids[i], authorIDs[i] = p.ID, p.AuthorID
	}
	marks, err := readMarks(db, viewer, &model.PostLike{}, ids, authorIDs)
	if err != nil {
		return err
	}
	var levels map[int64]string
	if viewer != nil {
		if levels, err = viewerLevels(db, viewer.ID, ids); err != nil {
			return err
		}
	}
	for _, p := range posts {
		p.Author = marks.authors[p.AuthorID]
		p.AuthorBlocked = marks.blocked[p.AuthorID]
		p.Liked = marks.liked[p.ID]
		p.Subscription = cmp.Or(levels[p.ID], model.LevelNormal)
		p.Muted = p.Subscription == model.LevelMuted
	}
	return nil
}
