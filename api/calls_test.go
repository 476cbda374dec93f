package api

// The calls a test makes of a test server, and the checks of their answers.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quizsite/discuss/model"
)

// response is an answer read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// ErrorCode returns the code of a contract-shaped error body, failing the
// test when the body has another shape.
func (r response) ErrorCode(t *testing.T) string {
	t.Helper()
	var e ErrorBody
	r.JSON(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %s is not the contract's error shape", r.Body)
	}
	return e.Error.Code
}

// do sends a request; body may be nil, a string or []byte (sent as is) or
// a value (sent as JSON). token, when not empty, goes in the Authorization
// header.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) response {
	t.Helper()
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	return ts.doWithHeader(t, method, path, header, body)
}

// doWithHeader sends a request with header and body (as do takes it) and
// reads the answer whole.
func (ts *testServer) doWithHeader(t testing.TB, method, path string, header http.Header, body any) response {
	t.Helper()
	return send(t, ts.Client(), ts.newRequest(t, method, path, header, body))
}

// newRequest builds a request to path with a copy of header and body as
// do takes it, marked as JSON when there is one.
func (ts *testServer) newRequest(t testing.TB, method, path string, header http.Header, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// send sends req with client and reads the answer whole.
func send(t testing.TB, client *http.Client, req *http.Request) response {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, res)
}

// readResponse reads res whole, for answers that come some other way than
// send: a refused WebSocket upgrade, a refused event stream.
func readResponse(t testing.TB, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// decodeAs fails the test unless res has status, and returns its body
// decoded as T; what names the call in the failure.
func decodeAs[T any](t testing.TB, res response, status int, what string) T {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, res.Status, res.Body, status)
	}
	var v T
	res.JSON(t, &v)
	return v
}

// wantError fails the test unless res is an error of status and code whose
// message contains text.
func wantError(t *testing.T, res response, status int, code, text string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d %s, want %d", res.Status, res.Body, status)
	}
	var e ErrorBody
	res.JSON(t, &e)
	if e.Error.Code != code || !strings.Contains(e.Error.Message, text) {
		t.Fatalf("error %+v, want code %s and a message with %q", e.Error, code, text)
	}
}

// wantRateLimited fails the test unless res is a 429 rate_limited error
// whose Retry-After says when to try again (in whole seconds, at least 1).
func wantRateLimited(t *testing.T, res response) {
	t.Helper()
	wantError(t, res, http.StatusTooManyRequests, model.ERATELIMITED, "")
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 with Retry-After %q", ra)
	}
}

// errorCase is a request that must fail with status and a body in the
// contract's error shape.
type errorCase struct {
	name                string
	method, path, token string
	body                any
	status              int
}

// wantErrorCases sends each case as a subtest of its name.
func (ts *testServer) wantErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.do(t, tc.method, tc.path, tc.token, tc.body)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			res.ErrorCode(t)
		})
	}
}
