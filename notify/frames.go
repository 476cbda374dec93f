package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/quizsite/discuss/model"
)

// Close codes sent by the server, besides the standard ones gorilla names.
const (
	// CloseReplaced closes the oldest connection of a user who opened more
	// than Options.MaxConnectionsPerUser.
	CloseReplaced = 4000
	// CloseTokenExpired closes a connection when the token it was opened
	// with expires; the client reconnects with a fresh token and since.
	CloseTokenExpired = 4001
)

// frameKind tells the writer what a queued frame is, for metrics and for
// the exactly-once bookkeeping of notifications.
type frameKind uint8

const (
	kindHello frameKind = iota
	kindNotification
	kindUnreadCount
	kindBroadcast
	kindResync
	kindPong
	// The live thread's frames (see thread.go); each carries its post id.
	kindPostSubscribed
	kindCommentCreated
	kindCommentUpdated
	kindCommentDeleted
	kindPostUpdated
	kindPostDeleted
	kindLikeCount
	kindPostResync
	kindError
	// kindCatchUp is never written: it asks the writer to read what the
	// connection missed from the Store (after a broker outage); its seq is
	// the user's sequence number at the time, so that a connection that
	// has sent that far need not read, or -1 to read regardless. When the
	// hub has read it already for many users at once, missed carries it.
	kindCatchUp
	// kindPing is the hub's turn to ping a connection: the writer sends a
	// WebSocket ping (a control frame, not a data frame).
	kindPing
	// kindSubscribe and kindUnsubscribe are never written: they carry a
	// client's subscribe_post and unsubscribe_post to the writer, in turn
	// with the frames queued before them.
	kindSubscribe
	kindUnsubscribe
	numKinds
)

// String is the frame type as the contract spells it (and the metrics label).
func (k frameKind) String() string {
	switch k {
	case kindHello:
		return "hello"
	case kindNotification:
		return "notification"
	case kindUnreadCount:
		return "unread_count"
	case kindBroadcast:
		return "broadcast"
	case kindResync:
		return "resync"
	case kindPong:
		return "pong"
	case kindPostSubscribed:
		return "post_subscribed"
	case kindCommentCreated:
		return model.ThreadCommentCreated
	case kindCommentUpdated:
		return model.ThreadCommentUpdated
	case kindCommentDeleted:
		return model.ThreadCommentDeleted
	case kindPostUpdated:
		return model.ThreadPostUpdated
	case kindPostDeleted:
		return model.ThreadPostDeleted
	case kindLikeCount:
		return model.ThreadLikeCount
	case kindPostResync:
		return "post_resync"
	case kindError:
		return "error"
	case kindCatchUp:
		return "catch_up"
	case kindPing:
		return "ping"
	case kindSubscribe:
		return "subscribe_post"
	case kindUnsubscribe:
		return "unsubscribe_post"
	}
	return "unknown"
}

// frame is one encoded server frame. A frame published to many connections
// is encoded once and shared, so it must never be modified once queued.
type frame struct {
	kind frameKind
	// id is the notification id of a notification frame, else 0.
	id int64
	// seq is the notification's number in its user's sequence (see
	// model.Notification), or 0 when the publisher did not know it.
	seq int64
	// publishedAt is when a live notification was published (just after its
	// commit), in Unix nanoseconds, for the commit-to-write latency metric;
	// 0 for everything else.
	publishedAt int64
	data        []byte
	// missed is what a catch-up frame's user missed, read by the hub; nil
	// on every other frame.
	missed *model.MissedNotifications
	// postID is the post of a live-thread frame (and of a subscribe or
	// unsubscribe). For comment_created, comment_updated, comment_deleted
	// and a comment's like_count, id is the comment's id; prev is, for
	// comment_created, the id of the post's comment before it
	// (model.ThreadEvent.PrevCommentID), and, for a subscribe, the
	// after_comment_id, or -1 without one.
	postID int64
	prev   int64
}

// frameQueue holds frames first in, first out: a connection's send queue,
// a feed's inbox.
type frameQueue []*frame

// shift takes the first frame off q, clearing its slot so that the array
// does not keep a sent frame alive, or reports false when q is empty and
// then lets go of the array, however long a burst made it grow.
func (q *frameQueue) shift() (*frame, bool) {
	if len(*q) == 0 {
		*q = nil
		return nil, false
	}
	f := (*q)[0]
	(*q)[0] = nil
	*q = (*q)[1:]
	return f, true
}

// The server frames of the contract. Every frame is one JSON text message
// with a type.
type (
	// The counts of the user's bell, unread_count and unseen_count, ride
	// inline in hello, notification and unread_count frames.
	helloFrame struct {
		Type   string `json:"type"`
		UserID int64  `json:"user_id"`
		model.NotificationCounts
		ServerTime time.Time `json:"server_time"`
	}
	notificationFrame struct {
		Type         string              `json:"type"`
		Notification *model.Notification `json:"notification"`
		model.NotificationCounts
		Replayed bool `json:"replayed"`
	}
	unreadCountFrame struct {
		Type string `json:"type"`
		model.NotificationCounts
	}
	broadcastFrame struct {
		Type      string    `json:"type"`
		Message   string    `json:"message"`
		CreatedAt time.Time `json:"created_at"`
	}
	// threadFrame is every live-thread frame: post_subscribed,
	// post_resync and post_deleted carry only the post id, the others one
	// of the rest.
	threadFrame struct {
		Type      string         `json:"type"`
		PostID    int64          `json:"post_id"`
		Comment   *model.Comment `json:"comment,omitempty"`
		Post      *model.Post    `json:"post,omitempty"`
		CommentID *int64         `json:"comment_id,omitempty"`
	}
	// likeCountFrame is like_count, whose comment_id is null for the post.
	likeCountFrame struct {
		Type      string `json:"type"`
		PostID    int64  `json:"post_id"`
		CommentID *int64 `json:"comment_id"`
		LikeCount int64  `json:"like_count"`
	}
	errorFrame struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		PostID  *int64 `json:"post_id"`
	}
)

// encodeFrame marshals one of the frame structs above. It fails only for
// values json cannot encode, such as a time past the year 9999.
func encodeFrame(kind frameKind, v any) (*frame, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("notify: encoding %s frame: %w", kind, err)
	}
	return &frame{kind: kind, data: data}, nil
}

func newHelloFrame(userID int64, counts model.NotificationCounts, now time.Time) (*frame, error) {
	return encodeFrame(kindHello, helloFrame{Type: "hello", UserID: userID, NotificationCounts: counts, ServerTime: now.UTC()})
}

func newNotificationFrame(n *model.Notification, counts model.NotificationCounts, replayed bool) (*frame, error) {
	f, err := encodeFrame(kindNotification, notificationFrame{Type: "notification", Notification: n, NotificationCounts: counts, Replayed: replayed})
	if err != nil {
		return nil, err
	}
	f.id = n.ID
	return f, nil
}

func newUnreadCountFrame(counts model.NotificationCounts) (*frame, error) {
	return encodeFrame(kindUnreadCount, unreadCountFrame{Type: "unread_count", NotificationCounts: counts})
}

func newBroadcastFrame(a *model.Announcement) (*frame, error) {
	return encodeFrame(kindBroadcast, broadcastFrame{Type: "broadcast", Message: a.Message, CreatedAt: a.CreatedAt.UTC()})
}

// newThreadFrame encodes a live-thread event as its frame, for the pages
// following its post. A comment_created frame knows its comment's
// predecessor in the post, for the hub's order (see feed).
func newThreadFrame(e *model.ThreadEvent) (*frame, error) {
	kind, ok := threadKind(e.Type)
	if !ok {
		return nil, fmt.Errorf("notify: unknown live-thread event %q", e.Type)
	}
	// id and prev are the frame's, as frame describes them.
	var id, prev int64
	var v any
	switch kind {
	case kindCommentCreated, kindCommentUpdated:
		if e.Comment == nil {
			return nil, fmt.Errorf("notify: %s without a comment", e.Type)
		}
		v, id, prev = threadFrame{Type: e.Type, PostID: e.PostID, Comment: e.Comment}, e.Comment.ID, e.PrevCommentID
	case kindCommentDeleted:
		if e.CommentID == nil {
			return nil, fmt.Errorf("notify: %s without a comment id", e.Type)
		}
		v, id = threadFrame{Type: e.Type, PostID: e.PostID, CommentID: e.CommentID}, *e.CommentID
	case kindPostUpdated:
		if e.Post == nil {
			return nil, fmt.Errorf("notify: %s without a post", e.Type)
		}
		v = threadFrame{Type: e.Type, PostID: e.PostID, Post: e.Post}
	case kindPostDeleted:
		return newPostFrame(kindPostDeleted, e.PostID), nil
	case kindLikeCount:
		v = likeCountFrame{Type: e.Type, PostID: e.PostID, CommentID: e.CommentID, LikeCount: e.LikeCount}
		if e.CommentID != nil {
			id = *e.CommentID
		}
	}
	f, err := encodeFrame(kind, v)
	if err != nil {
		return nil, err
	}
	f.id, f.prev, f.postID = id, prev, e.PostID
	return f, nil
}

// threadKind is the frame kind of a live-thread event type.
func threadKind(event string) (frameKind, bool) {
	for k := kindCommentCreated; k <= kindLikeCount; k++ {
		if k.String() == event {
			return k, true
		}
	}
	return 0, false
}

// newPostFrame makes the live-thread frames that carry only their post's
// id: post_subscribed, post_deleted and post_resync.
func newPostFrame(kind frameKind, postID int64) *frame {
	data := []byte(`{"type":"` + kind.String() + `","post_id":` + strconv.FormatInt(postID, 10) + `}`)
	return &frame{kind: kind, postID: postID, data: data}
}

// newErrorFrame tells the client that one of its frames failed, with the
// code the REST call would have answered; postID is the post the frame
// named, or nil.
func newErrorFrame(err error, postID *int64) *frame {
	// Strings and an integer: json cannot fail to encode them.
	data, _ := json.Marshal(errorFrame{Type: "error", Code: model.ErrorCode(err), Message: model.ErrorMessage(err), PostID: postID})
	return &frame{kind: kindError, data: data}
}

// newTypeOnlyFrame makes the frames without a body, resync and pong.
func newTypeOnlyFrame(kind frameKind) *frame {
	return &frame{kind: kind, data: []byte(`{"type":"` + kind.String() + `"}`)}
}

// Client frame types.
const (
	clientPing        = "ping"
	clientRead        = "read"
	clientSubscribe   = "subscribe_post"
	clientUnsubscribe = "unsubscribe_post"
)

// clientFrame is a frame sent by a client: {"type":"ping"}, or
// {"type":"read","ids":[...]} / {"type":"read","up_to_id":N}, whose
// selection is the body of POST /notifications/read, or
// {"type":"subscribe_post","post_id":N,"after_comment_id":M} /
// {"type":"unsubscribe_post","post_id":N}. The live thread's fields are
// kept raw: a bad value is answered with an error frame (see
// threadRequest), not by closing the connection.
type clientFrame struct {
	Type string `json:"type"`
	model.ReadSelection
	PostID         json.RawMessage `json:"post_id"`
	AfterCommentID json.RawMessage `json:"after_comment_id"`
}

// threadRequest returns the post id and after_comment_id (-1 when absent)
// of a subscribe_post or unsubscribe_post frame. postID is nil when the
// frame has no usable one. Errors: EINVALID naming the field.
func (f clientFrame) threadRequest() (postID *int64, after int64, err error) {
	var id int64
	if len(f.PostID) == 0 || json.Unmarshal(f.PostID, &id) != nil || id <= 0 {
		return nil, 0, model.Errorf(model.EINVALID, "post_id must be a positive integer")
	}
	after = -1
	if len(f.AfterCommentID) > 0 && string(f.AfterCommentID) != "null" {
		if json.Unmarshal(f.AfterCommentID, &after) != nil || after < 0 {
			return &id, 0, model.Errorf(model.EINVALID, "after_comment_id must be a non-negative integer")
		}
	}
	return &id, after, nil
}

// errMalformedFrame is a frame that is not a JSON object with a string
// type, or not text: invalid UTF-8, which RFC 6455 (section 8.1) says
// fails the connection, or an escape of half a UTF-16 surrogate pair. The
// connection is closed with 1007 (invalid frame payload data).
var errMalformedFrame = errors.New("notify: malformed client frame")

// parseClientFrame decodes and checks a client frame. Unknown types are
// returned without error, for the caller to ignore: a newer client may
// speak a frame this server does not know yet. A read frame whose
// selection the REST call would refuse returns that call's EINVALID error;
// the caller ignores the frame.
func parseClientFrame(data []byte) (clientFrame, error) {
	var f clientFrame
	// gorilla/websocket does not check that a text frame is UTF-8, and
	// encoding/json would read invalid bytes as U+FFFD.
	if !utf8.Valid(data) {
		return clientFrame{}, errMalformedFrame
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return clientFrame{}, errMalformedFrame
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
		return clientFrame{}, errMalformedFrame
	}
	if _, _, found := model.LoneSurrogate(data); found {
		return clientFrame{}, errMalformedFrame
	}
	if f.Type != clientRead {
		return f, nil
	}
	return f, f.ReadSelection.Validate()
}

// NotificationFrame returns the JSON of the live notification frame of n
// with counts, as a connection would be sent it: the payload of a Web Push
// message, which a service worker reads as a connection would.
func NotificationFrame(n *model.Notification, counts model.NotificationCounts) ([]byte, error) {
	f, err := newNotificationFrame(n, counts, false)
	if err != nil {
		return nil, err
	}
	return f.data, nil
}
