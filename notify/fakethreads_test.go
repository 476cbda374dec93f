package notify

import (
	"context"
	"sync"
	"sync/atomic"

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
	// afterHead, when set, runs once just after the next ThreadHead, on
	// the reading goroutine: what it commits lands between that head and
	// what is read after it.
	afterHead atomic.Pointer[func()]
}

func (s *fakeThreads) init() {
	if s.last == nil {
		s.last, s.gone, s.deleted = map[int64]int64{}, map[int64]bool{}, map[int64]bool{}
		s.comments = map[int64][]*model.Comment{}
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
	if f := t.afterHead.Swap(nil); f != nil {
		defer (*f)()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	// Posts 1 to 1000 exist until deleted, others never do.
	if t.gone[postID] || postID > 1000 {
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
		if c.ID > afterID && c.ID <= upToID && !t.deleted[c.ID] && len(list) < limit {
			copied := *c
			list = append(list, &copied)
		}
	}
	return list, nil
}
