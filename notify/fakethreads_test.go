package notify

import (
	"context"
	"sync"

	"github.com/quizsite/discuss/model"
)

// fakeThreads holds the posts and comments of the fake store. addComment
// is the "commit": comment ids are shared by all posts and given out in
// order under the lock, so one post's comments commit in id order, as the
// real store promises.
type fakeThreads struct {
	mu      sync.Mutex
	lastID  int64
	last    map[int64]int64 // post id -> its newest comment's id
	gone    map[int64]bool  // deleted posts
	reads   int             // ThreadComments calls
	deleted map[int64]bool  // deleted comments
	// comments by post, oldest first.
	comments map[int64][]*model.Comment
	// unseen holds comment ids that reads leave out, as a MariaDB snapshot
	// may leave out a comment committing while it is taken.
	unseen map[int64]bool
}

func (s *fakeThreads) init() {
	if s.last == nil {
		s.last, s.gone, s.deleted = map[int64]int64{}, map[int64]bool{}, map[int64]bool{}
		s.comments, s.unseen = map[int64][]*model.Comment{}, map[int64]bool{}
	}
}

// addComment commits a comment on postID and returns the event its
// service would publish.
func (s *fakeThreads) addComment(postID int64) *model.ThreadEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.lastID++
	c := &model.Comment{ID: s.lastID, PostID: postID, Body: "comment " + itoa(s.lastID)}
	prev := s.last[postID]
	s.last[postID] = c.ID
	s.comments[postID] = append(s.comments[postID], c)
	copied := *c
	return &model.ThreadEvent{Type: model.ThreadCommentCreated, PostID: postID, Comment: &copied, PrevCommentID: prev}
}

// deletePost deletes postID, as the service does.
func (s *fakeThreads) deletePost(postID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.gone[postID] = true
}

// deleteComment deletes a comment (without replies: it is gone).
func (s *fakeThreads) deleteComment(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.deleted[id] = true
}

// hide has reads leave out comment id (true) or show it again (false).
func (s *fakeThreads) hide(id int64, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.unseen[id] = hidden
}

func (s *fakeThreads) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

func (s *fakeStore) ThreadHead(_ context.Context, postID int64) (int64, error) {
	if s.down() {
		return 0, errStoreDown
	}
	t := &s.threads
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	if t.gone[postID] || (t.last[postID] == 0 && len(t.comments[postID]) == 0 && postID > 1000) {
		return 0, model.Errorf(model.ENOTFOUND, "post %d not found", postID)
	}
	return t.last[postID], nil
}

func (s *fakeStore) ThreadComments(_ context.Context, postID, afterID, upToID int64, limit int) ([]*model.Comment, error) {
	if s.down() {
		return nil, errStoreDown
	}
	t := &s.threads
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.reads++
	var list []*model.Comment
	for _, c := range t.comments[postID] {
		if c.ID > afterID && c.ID <= upToID && !t.deleted[c.ID] && !t.unseen[c.ID] && len(list) < limit {
			copied := *c
			list = append(list, &copied)
		}
	}
	return list, nil
}
