package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
)

// errInvalidRead stands in the table below for the EINVALID error that
// model.ReadSelection.Validate returns.
var errInvalidRead = errors.New("invalid read selection")

func TestParseClientFrame(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want clientFrame
		err  error
	}{
		{"Ping", `{"type":"ping"}`, clientFrame{Type: "ping"}, nil},
		{"ReadIDs", `{"type":"read","ids":[3,1]}`, clientFrame{Type: "read", ReadSelection: model.ReadSelection{IDs: []int64{3, 1}}}, nil},
		{"ReadUpTo", `{"type":"read","up_to_id":9}`, clientFrame{Type: "read", ReadSelection: model.ReadSelection{UpToID: 9}}, nil},
		{"Unknown", `{"type":"later"}`, clientFrame{Type: "later"}, nil},
		{"Spaces", " \n{\"type\":\"ping\"}\t", clientFrame{Type: "ping"}, nil},
		{"Empty", ``, clientFrame{}, errMalformedFrame},
		{"Null", `null`, clientFrame{}, errMalformedFrame},
		{"String", `"ping"`, clientFrame{}, errMalformedFrame},
		{"NoType", `{}`, clientFrame{}, errMalformedFrame},
		{"TypeNotString", `{"type":1}`, clientFrame{}, errMalformedFrame},
		{"Truncated", `{"type":"ping"`, clientFrame{}, errMalformedFrame},
		{"InvalidUTF8", "{\"type\":\"ping\",\"note\":\"\xff\"}", clientFrame{}, errMalformedFrame},
		{"LoneSurrogate", `{"type":"ping","note":"\udc00"}`, clientFrame{}, errMalformedFrame},
		{"SurrogatePair", `{"type":"ping","note":"\ud83d\ude00"}`, clientFrame{Type: "ping"}, nil},
		{"ReadNothing", `{"type":"read"}`, clientFrame{}, errInvalidRead},
		{"ReadZeroUpTo", `{"type":"read","up_to_id":0}`, clientFrame{}, errInvalidRead},
		{"ReadNegativeUpTo", `{"type":"read","up_to_id":-4}`, clientFrame{}, errInvalidRead},
		{"ReadZeroID", `{"type":"read","ids":[0]}`, clientFrame{}, errInvalidRead},
		{"ReadBoth", `{"type":"read","ids":[1],"up_to_id":2}`, clientFrame{}, errInvalidRead},
		{"ReadTooMany", `{"type":"read","ids":[` + strings.Repeat("1,", model.MaxReadIDs) + `1]}`, clientFrame{}, errInvalidRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClientFrame([]byte(tt.in))
			if model.ErrorCode(err) == model.EINVALID {
				err = errInvalidRead
			}
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got.Type != tt.want.Type || got.UpToID != tt.want.UpToID || len(got.IDs) != len(tt.want.IDs) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseClientFrame checks the frame reader never panics and that what
// it accepts as a read frame is what the Store may be given.
func FuzzParseClientFrame(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"type":"read","ids":[1,2]}`, `{"type":"read","up_to_id":3}`, `{"type":"read"}`, `[]`, `{"type":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseClientFrame(data)
		if err != nil {
			return
		}
		if got.Type == "" {
			t.Fatalf("accepted a frame without a type: %q", data)
		}
		if _, _, lone := model.LoneSurrogate(data); !utf8.Valid(data) || lone {
			t.Fatalf("accepted a frame that is not text: %q", data)
		}
		if got.Type == clientRead {
			if (len(got.IDs) > 0) == (got.UpToID > 0) || len(got.IDs) > model.MaxReadIDs {
				t.Fatalf("accepted read frame %+v from %q", got, data)
			}
			for _, id := range got.IDs {
				if id <= 0 {
					t.Fatalf("accepted id %d from %q", id, data)
				}
			}
		}
	})
}

// FuzzDeliver checks that no broker message, however malformed (anyone
// with access to Redis can publish on the channel), panics the hub.
func FuzzDeliver(f *testing.F) {
	for _, s := range []string{`{"k":"n","u":1,"id":2,"t":3,"f":{"type":"notification"}}`, `{"k":"b","f":{}}`, `{"k":"u","u":-1,"f":1}`, `{}`, `nope`} {
		f.Add([]byte(s))
	}
	h := New(Options{}, newFakeStore(), NewMemoryBroker(), nil, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		h.deliver(data)
	})
}

func TestFramesMatchContract(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	post := int64(5)
	n := &model.Notification{ID: 7, UserID: 1, Type: model.NotifyMention, PostID: &post, Excerpt: "hi @al", CreatedAt: at}
	cases := []struct {
		make func() (*frame, error)
		want string
	}{
		{func() (*frame, error) { return newHelloFrame(1, model.NotificationCounts{Unread: 2, Unseen: 1}, at) }, `{"type":"hello","user_id":1,"unread_count":2,"unseen_count":1,"server_time":"2026-01-02T02:04:05Z"}`},
		{func() (*frame, error) {
			return newNotificationFrame(n, model.NotificationCounts{Unread: 3, Unseen: 2}, true)
		}, `{"type":"notification","notification":{"id":7,"type":"mention","post_id":5,"comment_id":null,"excerpt":"hi @al","read":false,"created_at":"2026-01-02T03:04:05+01:00","actor":null},"unread_count":3,"unseen_count":2,"replayed":true}`},
		{func() (*frame, error) { return newUnreadCountFrame(model.NotificationCounts{Unread: 4, Unseen: 0}) }, `{"type":"unread_count","unread_count":4,"unseen_count":0}`},
		{func() (*frame, error) { return newBroadcastFrame(&model.Announcement{Message: "m", CreatedAt: at}) }, `{"type":"broadcast","message":"m","created_at":"2026-01-02T02:04:05Z"}`},
		{func() (*frame, error) { return newTypeOnlyFrame(kindResync), nil }, `{"type":"resync"}`},
		{func() (*frame, error) { return newTypeOnlyFrame(kindPong), nil }, `{"type":"pong"}`},
	}
	for _, c := range cases {
		f, err := c.make()
		if err != nil {
			t.Fatal(err)
		}
		if string(f.data) != c.want {
			t.Errorf("frame = %s\nwant    %s", f.data, c.want)
		}
		if !json.Valid(f.data) {
			t.Errorf("invalid JSON %s", f.data)
		}
	}
	// A time json cannot encode is an error, not a panic.
	if _, err := newHelloFrame(1, model.NotificationCounts{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("year 10000 encoded")
	}
}

// TestProtocolDocument keeps docs/protocol.md, which clients are written
// from, in step with the code: it must name every frame type in both
// directions, the event stream's close event, and every close code the
// server sends.
func TestProtocolDocument(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	var names []string
	for k := range kindCatchUp {
		names = append(names, k.String())
	}
	names = append(names, clientPing, clientRead, clientSubscribe, clientUnsubscribe, closeEventType)
	for _, name := range names {
		if !strings.Contains(text, "| `"+name+"` |") {
			t.Errorf("docs/protocol.md has no row for the frame %q", name)
		}
	}
	codes := []int{websocket.CloseMessageTooBig, CloseReplaced} // sent by gorilla, and by register
	for code := range 5000 {
		if closeText(code) != "" {
			codes = append(codes, code)
		}
	}
	for _, code := range codes {
		if !strings.Contains(text, fmt.Sprintf("| %d |", code)) {
			t.Errorf("docs/protocol.md has no row for the close code %d", code)
		}
	}
}
