package api

import (
	"bytes"
	"context"
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
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.Status,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
		},
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
	for _, r := range ts.Srv.routes().Routes() {
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
		"UnknownRoute": {"GET", "/api/v1/nothing", like(`{}`)},
	} {
		if err := spec.check(tc.method, tc.target, tc.res); err == nil {
			t.Errorf("%s: the check accepts %s %s answering %d %s", name, tc.method, tc.target, tc.res.Status, tc.res.Body)
		}
	}
}
