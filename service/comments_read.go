package service

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Comment list orders.
const (
	CommentsOld = "old" // oldest first
	CommentsNew = "new" // newest first
	CommentsTop = "top" // most likes first
)

// replyPreviews is how many replies each top-level comment of a thread page
// carries.
const replyPreviews = 3

// CommentQuery selects a page of top-level comments.
type CommentQuery struct {
	Sort   string // CommentsOld (the default), CommentsNew or CommentsTop
	Limit  int    // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor string
}

// Get returns comment id as the signed-in user sees it: live, or a
// placeholder. Errors: ENOTFOUND, also for a hidden comment (without live
// replies) or post that the user may not see.
func (s *Comments) Get(ctx context.Context, id int64) (*model.Comment, error) {
	return s.view(s.db.WithContext(ctx), id, model.UserFrom(ctx))
}

// view returns comment id as viewer (nil: a reader who has liked nothing,
// to whom hidden comments are not shown) sees it: live, or a placeholder.
// Errors: ENOTFOUND.
func (s *Comments) view(db *gorm.DB, id int64, viewer *model.User) (*model.Comment, error) {
	c, err := commentOfLivePost(db, viewer, id, commentsVisibleTo)
	if err != nil {
		return nil, err
	}
	if err := fillComments(db, viewer, []*model.Comment{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// commentOfLivePost reads comment id when its row meets cond for viewer
// (commentsVisibleTo or commentsLiveTo) and its post is live and visible
// to viewer. Errors: ENOTFOUND.
func commentOfLivePost(db *gorm.DB, viewer *model.User, id int64, cond func(*model.User) (string, []any)) (*model.Comment, error) {
	postShown, postArgs := shownTo(viewer, "posts")
	where, args := cond(viewer)
	var c model.Comment
	err := db.Joins("JOIN posts ON posts.id = comments.post_id AND posts.deleted_at IS NULL AND "+postShown, postArgs...).
		Where("comments.id = ?", id).Where(where, args...).Take(&c).Error
	if err != nil {
		return nil, notFound(err, "comment %d not found", id)
	}
	return &c, nil
}

// List returns a page of the top-level comments of post postID, each with
// its first replies. Placeholders keep their place. Walks by CommentsOld and
// CommentsNew are exact: every comment that existed when the walk began is
// seen once. CommentsTop sorts by like_count, which changes while a client
// walks; a comment liked past the cursor meanwhile may be missed or seen
// twice, every other one is seen once.
// Errors: ENOTFOUND, EINVALID naming sort, limit or cursor.
func (s *Comments) List(ctx context.Context, postID int64, q CommentQuery) (*Page[*model.Comment], error) {
	var err error
	if q.Sort, err = commentSort(q.Sort); err != nil {
		return nil, err
	}
	key := noKey
	if q.Sort == CommentsTop {
		key = countKey
	}
	limit, after, err := pageStart(q.Limit, q.Cursor, q.Sort, key)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	viewer := model.UserFrom(ctx)
	// Scanned by hand, as the page's comments are (see scanComments).
	post := model.Post{ID: postID}
	err = db.Raw("SELECT author_id, hidden FROM posts WHERE id = ? AND deleted_at IS NULL", postID).Row().
		Scan(&post.AuthorID, &post.Hidden)
	if err != nil {
		return nil, notFound(err, "post %d not found", postID)
	}
	if !post.VisibleTo(viewer) {
		return nil, model.Errorf(model.ENOTFOUND, "post %d not found", postID)
	}
	return listPage(db, viewer, postID, q.Sort, limit, after)
}

// commentSort is the order a thread is listed in: sort, or CommentsOld
// when it is empty. Errors: EINVALID for any other.
func commentSort(sort string) (string, error) {
	switch sort {
	case "":
		return CommentsOld, nil
	case CommentsOld, CommentsNew, CommentsTop:
		return sort, nil
	}
	return "", model.Errorf(model.EINVALID, "sort must be old, new or top")
}

// listPage reads the page of at most limit top-level comments of post
// postID after cursor after (nil: the first page) in order sort, as viewer
// (nil: a reader who has liked and blocked nothing and sees nothing
// hidden) sees them, each with its first replies: three statements, four
// with a viewer. The caller has checked the post.
func listPage(db *gorm.DB, viewer *model.User, postID int64, sort string, limit int, after *cursor) (*Page[*model.Comment], error) {
	// comments_post_root (post_id, root_id, id) serves old and new,
	// comments_post_root_top (post_id, root_id, like_count, id) serves top.
	visible, visibleArgs := commentsVisibleTo(viewer)
	query := db.Where("post_id = ? AND root_id IS NULL", postID).Where(visible, visibleArgs...)
	switch sort {
	case CommentsOld:
		query = query.Order("id")
		if after != nil {
			query = query.Where("id > ?", after.ID)
		}
	case CommentsNew:
		query = query.Order("id DESC")
		if after != nil {
			query = query.Where("id < ?", after.ID)
		}
	case CommentsTop:
		query = query.Order("like_count DESC").Order("id DESC")
		if after != nil {
			query = query.Where(keysetBefore("like_count", after.Key, after.ID))
		}
	}
	rows, err := findComments(query.Limit(limit + 1))
	if err != nil {
		return nil, err
	}
	page := newPage(rows, limit, func(c *model.Comment) cursor {
		k := cursor{Sort: sort, ID: c.ID}
		if sort == CommentsTop {
			k.Key = c.LikeCount
		}
		return k
	})

	replies, err := firstReplies(db, viewer, page.Items)
	if err != nil {
		return nil, err
	}
	all := slices.Clone(page.Items)
	for _, c := range page.Items {
		// Never nil, so that every top-level comment of a list carries
		// "replies", empty or not.
		c.Replies = append([]*model.Comment{}, replies[c.ID]...)
		all = append(all, c.Replies...)
	}
	if err := fillComments(db, viewer, all); err != nil {
		return nil, err
	}
	return page, nil
}

// firstReplies returns the first replyPreviews live replies that viewer
// may see of each of the top-level comments, oldest first, by top-level
// id. It is one query: a
// UNION ALL of one small index range (comments_root) per comment with
// replies, so a thread with thousands of replies costs no more than one
// with three.
//
// SQLite takes a LIMIT in a UNION member only inside a derived table. MySQL
// materialises each derived table into a temporary table, which made this
// query cost MariaDB about 14 ms of CPU for a page of 20 (the thread-read
// load test); there each member is a parenthesised SELECT instead, under
// 1 ms.
func firstReplies(db *gorm.DB, viewer *model.User, tops []*model.Comment) (map[int64][]*model.Comment, error) {
	shown, shownArgs := commentsLiveTo(viewer)
	first := fmt.Sprintf("SELECT %s FROM comments WHERE root_id = ? AND %s ORDER BY id LIMIT %d", commentColumns, shown, replyPreviews)
	member := func(i int) string { return fmt.Sprintf("SELECT * FROM (%s) AS r%d", first, i) }
	if db.Dialector.Name() == "mysql" {
		member = func(int) string { return "(" + first + ")" }
	}
	var parts []string
	var args []any
	for _, c := range tops {
		if c.ReplyCount == 0 {
			continue
		}
		parts = append(parts, member(len(parts)))
		args = append(append(args, c.ID), shownArgs...)
	}
	byRoot := make(map[int64][]*model.Comment, len(parts))
	if len(parts) == 0 {
		return byRoot, nil
	}
	rows, err := scanComments(db.Raw(strings.Join(parts, " UNION ALL "), args...))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		byRoot[*r.RootID] = append(byRoot[*r.RootID], r)
	}
	// UNION ALL promises no order across its parts; within a root the ids
	// must ascend.
	for _, list := range byRoot {
		slices.SortFunc(list, func(a, b *model.Comment) int { return cmp.Compare(a.ID, b.ID) })
	}
	return byRoot, nil
}

// Replies returns a page of the live replies under top-level comment id
// that the signed-in user may see, oldest first; a placeholder's replies
// are listed too. The walk is exact:
// every reply that existed when it began is seen once.
// Errors: ENOTFOUND; EINVALID when id is a reply, or naming limit or cursor.
func (s *Comments) Replies(ctx context.Context, id int64, limit int, cursorText string) (*Page[*model.Comment], error) {
	db := s.db.WithContext(ctx)
	limit, after, err := pageStart(limit, cursorText, CommentsOld, noKey)
	if err != nil {
		return nil, err
	}
	viewer := model.UserFrom(ctx)
	root, err := commentOfLivePost(db, viewer, id, commentsVisibleTo)
	if err != nil {
		return nil, err
	}
	if root.RootID != nil {
		return nil, model.Errorf(model.EINVALID, "comment %d is a reply; replies are listed under top-level comments", id)
	}
	// comments_root (root_id, id).
	shown, shownArgs := commentsLiveTo(viewer)
	query := db.Where("root_id = ?", id).Where(shown, shownArgs...).Order("id")
	if after != nil {
		query = query.Where("id > ?", after.ID)
	}
	rows, err := findComments(query.Limit(limit + 1))
	if err != nil {
		return nil, err
	}
	page := newPage(rows, limit, func(c *model.Comment) cursor {
		return cursor{Sort: CommentsOld, ID: c.ID}
	})
	if err := fillComments(db, viewer, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

// commentColumns are the columns of a comments row that scanComments reads,
// in its order.
const commentColumns = "id, post_id, parent_id, root_id, author_id, reply_to_user_id, body, body_html, like_count, reply_count, created_at, edited_at, deleted_at, spoiler, hidden"

// findComments runs q, a query of comments rows, and returns them.
func findComments(q *gorm.DB) ([]*model.Comment, error) {
	return scanComments(q.Model(&model.Comment{}).Select(commentColumns))
}

// scanComments runs q, which selects commentColumns, and scans the rows
// by hand. The thread page reads dozens of comments; GORM's reflective
// scanning of them cost more CPU than the rest of the request together.
func scanComments(q *gorm.DB) ([]*model.Comment, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, dbError(err)
	}
	defer func() { _ = rows.Close() }()
	var list []*model.Comment
	for rows.Next() {
		c := new(model.Comment)
		var bodyHTML sql.NullString // NULL until the row is rendered (RenderStoredBodies)
		err := rows.Scan(&c.ID, &c.PostID, &c.ParentID, &c.RootID, &c.AuthorID, &c.ReplyToUserID,
			&c.Body, &bodyHTML, &c.LikeCount, &c.ReplyCount, &c.CreatedAt, &c.EditedAt, &c.DeletedAt, &c.Spoiler, &c.Hidden)
		if err != nil {
			return nil, dbError(err)
		}
		c.BodyHTML = bodyHTML.String
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	return list, nil
}

// fillComments sets the authors, reply_to authors, the viewer's liked and
// author_blocked flags and the placeholder fields of comments: one query
// for authors, one for likes and one for blocks, whatever the number of
// comments. A deleted comment, and a hidden one that the viewer may not
// see (only a top-level one with live replies reaches here), is a
// placeholder: it says only that a comment was here.
func fillComments(db *gorm.DB, viewer *model.User, comments []*model.Comment) error {
	if len(comments) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(comments))
	userIDs := make([]int64, 0, 2*len(comments))
	for _, c := range comments {
		ids = append(ids, c.ID)
		userIDs = append(userIDs, c.AuthorID)
		if c.ReplyToUserID != nil {
			userIDs = append(userIDs, *c.ReplyToUserID)
		}
	}
	marks, err := readMarks(db, viewer, &model.CommentLike{}, ids, userIDs)
	if err != nil {
		return err
	}
	for _, c := range comments {
		if c.DeletedAt != nil || !c.VisibleTo(viewer) {
			c.Deleted, c.Body, c.BodyHTML, c.Author, c.Liked, c.Spoiler, c.Hidden = true, "", "", nil, false, false, false
			continue
		}
		c.Author = marks.authors[c.AuthorID]
		c.AuthorBlocked = marks.blocked[c.AuthorID]
		if c.ReplyToUserID != nil {
			c.ReplyTo = marks.authors[*c.ReplyToUserID]
		}
		c.Liked = marks.liked[c.ID]
	}
	return nil
}
