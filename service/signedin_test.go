package service_test

import (
	"context"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// TestSignedInOnly: every call made for the signed-in user refuses a
// context without one as unauthenticated, whatever it is asked about.
func TestSignedInOnly(t *testing.T) {
	f := newFixture(t)
	_, _, n := f.threeFor(t, "alice")
	anon, postID := context.Background(), *n[0].PostID
	for name, err := range map[string]error{
		"Posts.Create":              errOf(f.posts.Create(anon, service.PostInput{Title: "t", Body: "b"})),
		"Posts.Subscription":        errOf(f.posts.Subscription(anon, postID)),
		"Posts.SetSubscription":     errOf(f.posts.SetSubscription(anon, postID, model.LevelMuted)),
		"Posts.ResetSubscription":   errOf(f.posts.ResetSubscription(anon, postID)),
		"Posts.Subscriptions":       errOf(f.posts.Subscriptions(anon, service.SubscriptionQuery{})),
		"Notifications.List":        errOf(f.notes.List(anon, service.ListNotifications{})),
		"Notifications.ListGrouped": errOf(f.notes.ListGrouped(anon, service.ListNotifications{})),
		"Notifications.UnreadCount": errOf(f.notes.UnreadCount(anon)),
		"Notifications.MarkRead":    errOf(f.notes.MarkRead(anon, model.ReadSelection{IDs: []int64{n[0].ID}})),
		"Notifications.MarkOneRead": errOf(f.notes.MarkOneRead(anon, n[0].ID)),
		"Notifications.MarkSeen":    errOf(f.notes.MarkSeen(anon, n[0].ID)),
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, err, model.EUNAUTHENTICATED, "") })
	}
}
