package service

import (
	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Likes: the like notification, planned and written inside the like's
// transaction as notifications_plan.go and notifications_write.go do for
// posts and comments. Its author hears of each liker's like of an item
// once, ever: unliking and liking again tells nobody a second time.

// planLike locks, inside tx, the user rows that a like (liking true) or
// unlike by actor of an item written by authorID needs, ascending by id:
// actor's, whose row the like's insert share-locks, and, when a like may
// notify (not one's own item), the author's, whose notification sequence
// it would move. It returns the author to tell, or an empty plan (for
// one's own item, or an author who blocked actor; see lockPlan).
func (s *Notifications) planLike(tx *gorm.DB, actor *model.User, authorID int64, liking bool) (notifyPlan, error) {
	var to []recipient
	if liking && authorID != actor.ID {
		to = append(to, recipient{userID: authorID, typ: model.NotifyLike})
	}
	return lockPlan(tx, actor, to)
}

// liked writes, inside tx, the notification of a new like by actor of t,
// unless t's author has been told of this liker's like of it before. The
// notice row's primary key decides, not a read: the insert ignores a
// duplicate, and only an insert that made the row notifies, so two racing
// likes, or a like after an unlike, notify once between them.
func (s *Notifications) liked(tx *gorm.DB, actor *model.User, t likeTarget) (Outbox, error) {
	if len(t.plan) == 0 {
		return Outbox{}, nil
	}
	inserted, err := setRow(tx, t.notice, true)
	if err != nil || inserted == 0 {
		return Outbox{}, err
	}
	actorID, postID := actor.ID, t.postID
	return s.write(tx, t.plan, func(userID int64, typ string) *model.Notification {
		return &model.Notification{
			UserID: userID, Type: typ, ActorID: &actorID, PostID: &postID, CommentID: t.commentID,
			Excerpt: t.excerpt, Actor: model.AuthorOf(actor),
		}
	})
}
