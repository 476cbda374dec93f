package service_test

// Offline delivery by Web Push, and what mail and push share: the type
// switches, and spoilers kept out of both.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

func TestWebPush(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.as(t, "alice")
	aliceID := model.UserFrom(alice).ID
	carol := of.as(t, "carol")
	browser, gone, carols := of.browser(t, alice), of.browser(t, alice), of.browser(t, carol)
	of.push.SetStatus(gone, http.StatusGone)
	of.runPush(t)

	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	c := of.comment(t, bob, post.ID, nil, "an answer")
	// carolsIsNth has carol told of a new comment and fails unless hers
	// is the nth push and the last: queued after what came before, it
	// proves that was handled.
	carolsIsNth := func(t *testing.T, n int, what string) {
		t.Helper()
		of.comment(t, bob, of.post(t, carol, "another").ID, nil, "for carol")
		if pushed := waitPushes(t, of.push, n); len(pushed) != n || pushed[n-1].Endpoint != carols.Endpoint {
			t.Fatalf("%s: %+v", what, pushed)
		}
	}

	t.Run("DeliveredSignedAndDecryptable", func(t *testing.T) {
		pushed := waitPushes(t, of.push, 1)
		if pushed[0].Endpoint != browser.Endpoint || pushed[0].Subject != "mailto:ops@quiz.example.com" {
			t.Fatalf("pushed %+v", pushed[0])
		}
		var frame struct {
			Type         string `json:"type"`
			Notification struct {
				ID        int64  `json:"id"`
				Type      string `json:"type"`
				CommentID int64  `json:"comment_id"`
				Excerpt   string `json:"excerpt"`
			} `json:"notification"`
			UnreadCount int64 `json:"unread_count"`
		}
		if err := json.Unmarshal(pushed[0].Payload, &frame); err != nil {
			t.Fatal(err)
		}
		if frame.Type != "notification" || frame.Notification.Type != model.NotifyPostComment ||
			frame.Notification.CommentID != c.ID || frame.Notification.Excerpt != "an answer" || frame.UnreadCount != 1 {
			t.Fatalf("payload %s", pushed[0].Payload)
		}
	})
	t.Run("GoneDeletesTheSubscription", func(t *testing.T) {
		waitFor(t, testTimeout, "a subscription answered 410 deleted", func() bool {
			return of.countRows(t, &model.PushSubscription{}, "endpoint = ?", gone.Endpoint) == 0
		})
	})
	t.Run("NoPushWhileConnected", func(t *testing.T) {
		if err := of.offline.RecordPresence(t.Context(), "instance-1", []int64{aliceID}, nil); err != nil {
			t.Fatal(err)
		}
		of.comment(t, bob, post.ID, nil, "seen live")
		carolsIsNth(t, 2, "pushed while connected")
		// Her connection's record runs out with its lease (an instance
		// that died): she is pushed to again.
		of.clock.Advance(2 * time.Minute)
		of.comment(t, bob, post.ID, nil, "after the lease")
		pushed := waitPushes(t, of.push, 3)
		if pushed[2].Endpoint != browser.Endpoint {
			t.Fatalf("third push %+v", pushed[2])
		}
	})
	t.Run("PushDisabled", func(t *testing.T) {
		off := false
		if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{PushEnabled: &off}); err != nil {
			t.Fatal(err)
		}
		of.comment(t, bob, post.ID, nil, "not pushed")
		carolsIsNth(t, 4, "pushed with push off")
	})
	t.Run("Subscriptions", func(t *testing.T) {
		for _, bad := range []model.PushSubscription{
			{Endpoint: "ftp://push.example.com/x", P256DH: browser.P256DH, Auth: browser.Auth},
			{Endpoint: browser.Endpoint, P256DH: "AAAA", Auth: browser.Auth},
			{Endpoint: browser.Endpoint, P256DH: browser.P256DH, Auth: "short"},
		} {
			wantCode(t, of.offline.Subscribe(alice, bad), model.EINVALID, "")
		}
		wantCode(t, of.offline.UnsubscribePush(carol, browser.Endpoint), model.ENOTFOUND, "no such subscription")
		if err := of.offline.UnsubscribePush(alice, browser.Endpoint); err != nil {
			t.Fatal(err)
		}
		wantCode(t, of.offline.UnsubscribePush(alice, browser.Endpoint), model.ENOTFOUND, "no such subscription")
		key, err := of.offline.PushKey()
		if err != nil || key != of.push.VAPIDPublicKey {
			t.Fatalf("push key %q, %v", key, err)
		}
	})
}

// TestTypeSwitches: a type switched off is neither mailed nor pushed, but
// still listed and counted.
func TestTypeSwitches(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	of.browser(t, alice)
	if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Types: map[string]bool{model.NotifyPostComment: false}}); err != nil {
		t.Fatal(err)
	}
	p, _ := of.offline.Preferences(alice)
	if p.Types[model.NotifyPostComment] || !p.Types[model.NotifyMention] {
		t.Fatalf("types %v", p.Types)
	}
	of.runPush(t)

	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	of.comment(t, bob, post.ID, nil, "a post_comment, switched off")
	of.comment(t, bob, post.ID, nil, "and a mention of @alice")
	waitPushes(t, of.push, 1)
	msgs := of.mailAfter(t, pastDelay)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Text, "The bob mentioned you") || strings.Contains(msgs[1].Text, "switched off") {
		t.Fatalf("mail with post_comment off: %v", msgs)
	}
	pushed, _ := of.push.Received()
	if len(pushed) != 1 || !strings.Contains(string(pushed[0].Payload), `"type":"mention"`) {
		t.Fatalf("pushes with post_comment off: %s", pushed)
	}
	counts, _ := of.notes.UnreadCount(alice)
	if counts.Unread != 2 {
		t.Fatalf("unread %d, want both counted", counts.Unread)
	}
}

// TestSpoilerNotDelivered: a spoiler's text reaches neither the mail nor
// the push; both say "[spoiler]".
func TestSpoilerNotDelivered(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	of.browser(t, alice)
	of.runPush(t)
	post := of.post(t, alice, "which answer?")
	// A word, not a number: a number can turn up in the payload's
	// timestamps and ids by chance.
	const secret = "Zanzibar"
	if _, err := of.comments.Create(of.as(t, "bob"), post.ID, service.CommentInput{Body: "the answer is " + secret, Spoiler: true}); err != nil {
		t.Fatal(err)
	}
	pushed := waitPushes(t, of.push, 1)
	if strings.Contains(string(pushed[0].Payload), secret) || !strings.Contains(string(pushed[0].Payload), `"excerpt":"[spoiler]"`) {
		t.Fatalf("push payload %s", pushed[0].Payload)
	}
	msgs := of.mailAfter(t, pastDelay)
	if len(msgs) != 2 || strings.Contains(msgs[1].Text+msgs[1].HTML, secret) || !strings.Contains(msgs[1].Text, "[spoiler]") {
		t.Fatalf("mail %v:\n%s", msgs, msgs[len(msgs)-1].Text)
	}
}
