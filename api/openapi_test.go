package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

// openAPISpec is the embedded document, parsed and validated, with a router
// that finds the operation of a request.
type openAPISpec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadOpenAPI parses the document once per test binary; the parsed
// document is only read afterwards.
var loadOpenAPI = sync.OnceValues(func() (*openAPISpec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		return nil, err
	}
	// The router validates the document first.
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	// The published document lets clients expect new fields, as the
	// contract allows adding them. The tests are stricter: every field the
	// server sends must be documented, so an object may hold no property
	// the document does not name.
	closeObjects(doc)
	return &openAPISpec{doc: doc, router: router}, nil
})

// closeObjects forbids undocumented properties in every object schema of
// the document's components.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var visit func(ref *openapi3.SchemaRef)
	visit = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Type.Is(openapi3.TypeObject) && len(s.Properties) > 0 && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			visit(p)
		}
		visit(s.Items)
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			visit(sub)
		}
	}
	for _, s := range doc.Components.Schemas {
		visit(s)
	}
}

func openAPI(t testing.TB) *openAPISpec {
	t.Helper()
	spec, err := loadOpenAPI()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return spec
}

// checkOpenAPI fails the test unless res, the answer to method target (a
// path with an optional query), is what openapi.json says that operation
// answers: a documented status, and a body and headers that fit its schema.
// Other test files call it, or doChecked, for every answer they look at.
func (ts *testServer) checkOpenAPI(t *testing.T, method, target string, res response) {
	t.Helper()
	if err := openAPI(t).check(method, target, res); err != nil {
		t.Errorf("%s %s answered %d %s\nwhich openapi.json does not allow: %v", method, target, res.Status, res.Body, err)
	}
}

// check returns why res may not answer method target, or nil.
func (spec *openAPISpec) check(method, target string, res response) error {
	req := httptest.NewRequest(method, target, nil)
	route, params, err := spec.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation in openapi.json: %w", err)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
	}
	// kin-openapi decodes JSON and plain text only. The demo page's HTML,
	// scripts and styles have no schema to check; their content type must
	// still be one the document names.
	if ctype := res.Header.Get("Content-Type"); ctype != "" && !strings.Contains(ctype, "json") && !strings.HasPrefix(ctype, "text/plain") {
		opts.ExcludeResponseBody = true
		if r := route.Operation.Responses.Status(res.Status); r != nil && r.Value != nil && r.Value.Content.Get(ctype) == nil {
			return fmt.Errorf("content type %s is not documented for status %d", ctype, res.Status)
		}
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.Status,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                opts,
	})
}

// doChecked is do followed by checkOpenAPI.
func (ts *testServer) doChecked(t *testing.T, method, target, token string, body any) response {
	t.Helper()
	res := ts.do(t, method, target, token, body)
	ts.checkOpenAPI(t, method, target, res)
	return res
}

// ginParam matches a Gin path parameter, :name or *name.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes is the drift test: every route of the router has
// its operation in openapi.json, and every operation there has its route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	spec := openAPI(t)

	routes := map[string]bool{}
	for _, r := range ts.Srv.public.Routes() {
		routes[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range spec.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("openapi.json documents %s, which no route serves", d)
		}
	}
	if len(routes) < 30 {
		t.Errorf("only %d routes found; is the router walked?", len(routes))
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.doChecked(t, "GET", "/openapi.json", "", nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI 3: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	// Operations answer without a token; everything else needs one.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		ts.doChecked(t, "GET", path, "", nil)
	}
}

// TestOpenAPILint holds the document to the rules of the linters that
// generators and portals run, those a document written by hand breaks
// most: `npx @redocly/cli lint` (its recommended rules) and spectral's
// `spectral:oas` report no errors on it. Their warnings, kept: no
// info.license (an internal service), /ws has no 2xx (it answers 101
// Switching Protocols), and spectral's operation-description (every
// operation has a summary, and a description where a summary does not
// say it all).
func TestOpenAPILint(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Error("no servers: generators then have no base URL")
	}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["nullable"] == true && v["type"] == nil {
				t.Errorf("%s: nullable without a type (OpenAPI 3.0 ignores it; generators drop the null)", at)
			}
			if req, ok := v["required"].([]any); ok && len(req) == 0 {
				t.Errorf("%s: an empty required list, which OpenAPI 3.0 does not allow", at)
			}
			for k, child := range v {
				walk(at+"/"+k, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s/%d", at, i), child)
			}
		}
	}
	walk("#", doc)
}

// TestOpenAPICheckCatchesDrift proves the check is not vacuous: answers the
// document does not describe fail it.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	t.Parallel()
	spec := openAPI(t)
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	author := `{"id":1,"username":"alice","display_name":"Alice"}`
	like := func(body string) response { return response{Status: 200, Header: jsonHeader, Body: []byte(body)} }
	if err := spec.check("PUT", "/api/v1/posts/1/like", like(`{"like_count":1,"liked":true}`)); err != nil {
		t.Fatalf("a valid answer fails: %v", err)
	}
	for name, tc := range map[string]struct {
		method, target string
		res            response
	}{
		"UndocumentedField": {"PUT", "/api/v1/posts/1/like", like(`{"like_count":1,"liked":true,"extra":1}`)},
		"MissingField":      {"PUT", "/api/v1/posts/1/like", like(`{"like_count":1}`)},
		"WrongType":         {"PUT", "/api/v1/posts/1/like", like(`{"like_count":"1","liked":true}`)},
		"UndocumentedStatus": {"PUT", "/api/v1/posts/1/like",
			response{Status: http.StatusConflict, Header: jsonHeader, Body: []byte(`{"error":{"code":"conflict","message":"m"}}`)}},
		"BadTime": {"GET", "/api/v1/me", like(`{"id":1,"username":"alice","display_name":"A","role":"user","created_at":"yesterday"}`)},
		"NullAuthor": {"GET", "/api/v1/posts/1", like(`{"id":1,"author":null,"problem_id":null,"title":"t","body":"b",
			"comment_count":0,"like_count":0,"liked":false,"muted":false,"created_at":"2026-01-01T00:00:00Z",
			"updated_at":"2026-01-01T00:00:00Z","last_activity_at":"2026-01-01T00:00:00Z"}`)},
		"NestedReply": {"GET", "/api/v1/comments/1", like(`{"id":1,"post_id":1,"parent_id":null,"root_id":null,"author":` + author + `,
			"reply_to":null,"body":"b","like_count":0,"liked":false,"reply_count":0,"deleted":false,
			"created_at":"2026-01-01T00:00:00Z","edited_at":null,"replies":[{"id":2}]}`)},
		"UnknownRoute":     {"GET", "/api/v1/nothing", like(`{}`)},
		"UndocumentedType": {"GET", "/", response{Status: 200, Header: http.Header{"Content-Type": {"image/png"}}, Body: []byte("png")}},
	} {
		if err := spec.check(tc.method, tc.target, tc.res); err == nil {
			t.Errorf("%s: the check accepts %s %s answering %d %s", name, tc.method, tc.target, tc.res.Status, tc.res.Body)
		}
	}
}

// TestOpenAPIDocumentsTooLarge: every /api/v1 route answers a request
// body over limits.body_bytes with 413 payload_too_large before it looks
// at anything else, and the document says so for each.
func TestOpenAPIDocumentsTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1024
	ts := newTestServer(t, func(c *configs.Config) { c.Limits.BodyBytes = limit })
	big := `{"body":"` + strings.Repeat("b", limit) + `"}`
	for path, item := range openAPI(t).doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		target := strings.ReplaceAll(path, "{id}", "1")
		for method := range item.Operations() {
			res := ts.do(t, method, target, "", big)
			if res.Status != http.StatusRequestEntityTooLarge || res.ErrorCode(t) != model.ETOOLARGE {
				t.Errorf("%s %s with a body over the limit: %d %s", method, target, res.Status, res.Body)
			}
			ts.checkOpenAPI(t, method, target, res)
		}
	}
}

// TestOpenAPIDescribesEveryRoute calls every route once, on its usual path
// and on a typical error, and checks each answer against the document, so
// that the routes of every resource are held to it, not only those whose
// own tests call doChecked.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	admin := ts.withRole(t, "boss", "admin")
	p := ts.createPost(t, alice.Token, "hello @bob")
	c := ts.createComment(t, bob.Token, p.ID, nil)
	ts.createComment(t, alice.Token, p.ID, &c)
	post, comment := fmt.Sprintf("/api/v1/posts/%d", p.ID), fmt.Sprintf("/api/v1/comments/%d", c.ID)

	calls := []struct {
		method, target, token string
		body                  any
		status                int
	}{
		{"POST", "/api/v1/auth/register", "", map[string]string{"username": "carol", "password": "password123", "display_name": "Carol"}, 201},
		{"POST", "/api/v1/auth/register", "", map[string]string{"username": "carol", "password": "password123"}, 409},
		{"POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "password123"}, 200},
		{"POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "wrong password"}, 401},
		{"GET", "/api/v1/me", alice.Token, nil, 200},
		{"GET", "/api/v1/me", "", nil, 401},
		{"GET", "/api/v1/notifications", alice.Token, nil, 200},
		{"GET", "/api/v1/notifications?unread_only=true&limit=1", bob.Token, nil, 200},
		{"GET", "/api/v1/notifications?unread_only=maybe", bob.Token, nil, 400},
		{"GET", "/api/v1/notifications/grouped", alice.Token, nil, 200},
		{"GET", "/api/v1/notifications/grouped?unread_only=true&limit=1", bob.Token, nil, 200},
		{"GET", "/api/v1/notifications/grouped?cursor=nope", bob.Token, nil, 400},
		{"GET", "/api/v1/notifications/unread_count", bob.Token, nil, 200},
		{"POST", "/api/v1/notifications/read", bob.Token, map[string]any{"up_to_id": 1}, 200},
		{"POST", "/api/v1/notifications/read", bob.Token, map[string]any{"ids": []int64{1, 2}}, 200},
		{"POST", "/api/v1/notifications/read", bob.Token, map[string]any{}, 400},
		{"POST", "/api/v1/notifications/seen", bob.Token, map[string]any{"up_to_id": 1}, 200},
		{"POST", "/api/v1/notifications/seen", bob.Token, map[string]any{"up_to_id": 0}, 400},
		// Notification 1 is bob's mention in alice's post.
		{"POST", "/api/v1/notifications/1/read", bob.Token, nil, 200},
		{"POST", "/api/v1/notifications/1/read", alice.Token, nil, 404},
		{"POST", "/api/v1/admin/broadcast", admin.Token, map[string]string{"message": "maintenance at noon"}, 202},
		{"POST", "/api/v1/admin/broadcast", alice.Token, map[string]string{"message": "hi"}, 403},
		{"GET", "/api/v1/announcements", alice.Token, nil, 200},
		{"GET", "/api/v1/announcements?limit=0", alice.Token, nil, 400},
		{"POST", "/api/v1/admin/notify", admin.Token, map[string]any{"user_id": bob.User.ID, "message": "hello"}, 201},
		{"POST", "/api/v1/admin/notify", admin.Token, map[string]any{"user_id": 999, "message": "hello"}, 404},
		{"GET", "/api/v1/admin/online", admin.Token, nil, 200},
		{"PATCH", fmt.Sprintf("/api/v1/admin/users/%d", alice.User.ID), admin.Token, map[string]string{"role": "moderator"}, 200},
		{"PATCH", fmt.Sprintf("/api/v1/admin/users/%d", alice.User.ID), admin.Token, map[string]string{"role": "king"}, 400},
		{"GET", "/api/v1/posts?sort=active", bob.Token, nil, 200},
		{"POST", "/api/v1/posts", bob.Token, map[string]any{"title": "t", "body": "b", "problem_id": 3}, 201},
		{"GET", post, bob.Token, nil, 200},
		{"PATCH", post, bob.Token, map[string]any{"title": "mine"}, 403},
		{"PUT", post + "/like", bob.Token, nil, 200},
		{"DELETE", post + "/like", bob.Token, nil, 200},
		{"PUT", post + "/mute", bob.Token, nil, 204},
		{"DELETE", post + "/mute", bob.Token, nil, 204},
		{"GET", post + "/subscription", bob.Token, nil, 200},
		{"PUT", post + "/subscription", bob.Token, map[string]string{"level": "normal"}, 200},
		{"PUT", post + "/subscription", bob.Token, map[string]string{"level": "loud"}, 400},
		{"DELETE", post + "/subscription", bob.Token, nil, 200},
		{"DELETE", "/api/v1/posts/999/subscription", bob.Token, nil, 404},
		{"GET", "/api/v1/me/subscriptions?limit=1", bob.Token, nil, 200},
		{"GET", "/api/v1/me/subscriptions?cursor=x", bob.Token, nil, 400},
		{"GET", post + "/comments?sort=top", bob.Token, nil, 200},
		{"POST", post + "/comments", bob.Token, map[string]any{"body": "again"}, 201},
		{"GET", comment, alice.Token, nil, 200},
		{"GET", comment + "/replies", alice.Token, nil, 200},
		{"PATCH", comment, bob.Token, map[string]any{"body": "edited"}, 200},
		{"PUT", comment + "/like", alice.Token, nil, 200},
		{"DELETE", comment + "/like", alice.Token, nil, 200},
		{"POST", post + "/report", bob.Token, map[string]any{"reason": "spam", "note": "ads"}, 201},
		{"POST", post + "/report", bob.Token, map[string]any{"reason": "spam"}, 409},
		{"POST", comment + "/report", admin.Token, map[string]any{"reason": "spoiler"}, 201},
		{"POST", comment + "/report", bob.Token, map[string]any{"reason": "spoiler"}, 403},
		{"POST", comment + "/report", admin.Token, map[string]any{"reason": "rude"}, 400},
		{"GET", "/api/v1/mod/reports?status=open&limit=1", admin.Token, nil, 200},
		{"GET", "/api/v1/mod/reports", bob.Token, nil, 403},
		// Report 1 is bob's of alice's post.
		{"POST", "/api/v1/mod/reports/1/resolve", admin.Token, map[string]any{"action": "dismiss"}, 200},
		{"POST", "/api/v1/mod/reports/1/resolve", admin.Token, map[string]any{"action": "hide"}, 409},
		{"GET", "/api/v1/admin/moderation-log", admin.Token, nil, 200},
		{"GET", "/api/v1/admin/moderation-log?limit=0", admin.Token, nil, 400},
		{"PUT", fmt.Sprintf("/api/v1/users/%d/block", alice.User.ID), bob.Token, nil, 204},
		{"PUT", fmt.Sprintf("/api/v1/users/%d/block", bob.User.ID), bob.Token, nil, 400},
		{"GET", "/api/v1/me/blocks", bob.Token, nil, 200},
		{"DELETE", fmt.Sprintf("/api/v1/users/%d/block", alice.User.ID), bob.Token, nil, 204},
		{"DELETE", "/api/v1/users/999/block", bob.Token, nil, 404},
		{"DELETE", comment, bob.Token, nil, 204},
		{"DELETE", post, alice.Token, nil, 204},
		{"GET", "/api/v1/me/preferences", alice.Token, nil, 200},
		{"PATCH", "/api/v1/me/preferences", alice.Token, map[string]any{"push_enabled": false, "types": map[string]bool{"like": false}}, 200},
		{"PATCH", "/api/v1/me/preferences", alice.Token, map[string]string{"email": "alice@example.com"}, 400},
		{"POST", "/api/v1/email/verify", "", map[string]string{"token": "nope"}, 400},
		{"GET", "/api/v1/email/unsubscribe?token=nope", "", nil, 200},
		{"POST", "/api/v1/email/unsubscribe?token=nope", "", nil, 400},
		{"GET", "/api/v1/push/key", "", nil, 404},
		{"POST", "/api/v1/push/subscriptions", alice.Token, map[string]any{"endpoint": "https://push.example.com/1", "keys": map[string]string{"p256dh": "x", "auth": "y"}}, 404},
		{"DELETE", "/api/v1/push/subscriptions", alice.Token, map[string]string{"endpoint": "https://push.example.com/1"}, 404},
		{"GET", "/ws", "", nil, 401},
		{"GET", "/sse", "", nil, 401},
		{"GET", "/sse?since=x&token=" + alice.Token, "", nil, 400},
		{"GET", "/healthz", "", nil, 200},
		{"GET", "/readyz", "", nil, 200},
		{"GET", "/metrics", "", nil, 200},
		{"GET", "/openapi.json", "", nil, 200},
		{"GET", "/", "", nil, 200},
		{"GET", "/verify-email?token=abc", "", nil, 200},
		{"HEAD", "/verify-email", "", nil, 200},
		{"GET", "/sw.js", "", nil, 200},
		{"HEAD", "/sw.js", "", nil, 200},
		{"GET", "/static/discuss-client.js", "", nil, 200},
		{"GET", "/static/nothing.js", "", nil, 404},
		{"HEAD", "/healthz", "", nil, 200},
		{"HEAD", "/readyz", "", nil, 200},
		{"HEAD", "/", "", nil, 200},
		{"HEAD", "/static/discuss-client.js", "", nil, 200},
		{"HEAD", "/static/nothing.js", "", nil, 404},
	}
	spec := openAPI(t)
	called := map[*openapi3.Operation]bool{}
	for _, call := range calls {
		res := ts.doChecked(t, call.method, call.target, call.token, call.body)
		if res.Status != call.status {
			t.Errorf("%s %s: %d %s, want %d", call.method, call.target, res.Status, res.Body, call.status)
		}
		if route, _, err := spec.router.FindRoute(httptest.NewRequest(call.method, call.target, nil)); err == nil {
			called[route.Operation] = true
		}
	}
	// A route added later fails this test until a call to it is added.
	for path, item := range spec.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !called[op] {
				t.Errorf("no call to %s %s", method, path)
			}
		}
	}
}
