package model

// Live-thread event types: a change to a post's discussion, published
// after its commit to the pages that follow the post (each is also the
// type of the frame that carries it).
const (
	ThreadCommentCreated = "comment_created"
	ThreadCommentUpdated = "comment_updated"
	ThreadCommentDeleted = "comment_deleted"
	ThreadPostUpdated    = "post_updated"
	ThreadPostDeleted    = "post_deleted"
	ThreadLikeCount      = "like_count"
)

// ThreadEvent is one change to a post's discussion. Which fields are set
// depends on Type:
//   - comment_created: Comment, and PrevCommentID;
//   - comment_updated: Comment;
//   - comment_deleted: CommentID;
//   - post_updated: Post;
//   - post_deleted: nothing more (also sent when a post becomes invisible
//     to readers);
//   - like_count: LikeCount, and CommentID unless the post itself was liked.
//
// Comment and Post are as REST shows them to a reader who has liked
// nothing and set no level on the post.
type ThreadEvent struct {
	Type   string
	PostID int64

	Comment *Comment
	// PrevCommentID is, for comment_created, the id of the comment created
	// on the post just before this one (Post.LastCommentID when it was
	// written; 0 for the first). The comments of one post commit in id
	// order (each takes the post's row lock), so a hub that has passed on
	// PrevCommentID knows that Comment is the next one, and one that has
	// not knows that some comment is still on its way.
	PrevCommentID int64
	CommentID     *int64
	Post          *Post
	LikeCount     int64
}
