package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// apiClient speaks the REST half of the contract.
type apiClient struct {
	base    string // http://host:port, no trailing slash
	metrics string // where /metrics is: base, or the server's internal listener
	hc      *http.Client
}

// newAPIClient keeps up to conns keep-alive connections, so that a paced
// run reuses them instead of opening one per request.
func newAPIClient(base, metrics string, conns int, timeout time.Duration) *apiClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &apiClient{
		base:    strings.TrimRight(base, "/"),
		metrics: strings.TrimRight(metrics, "/"),
		hc:      &http.Client{Transport: tr, Timeout: timeout},
	}
}

// statusError is an answer outside 2xx.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// call sends body (if not nil) as JSON with the bearer token and decodes a
// 2xx answer into out (if not nil). Other answers are a *statusError.
func (a *apiClient) call(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return &statusError{method: method, path: path, status: res.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body) // read it all so the connection is reused
		return err
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// notificationBody is the part of a notification the load generator reads.
type notificationBody struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	CommentID *int64    `json:"comment_id"`
	CreatedAt time.Time `json:"created_at"`
}

// adminNotify sends user a system notification and returns it.
func (a *apiClient) adminNotify(ctx context.Context, adminToken string, userID int64, message string) (*notificationBody, error) {
	var n notificationBody
	err := a.call(ctx, http.MethodPost, "/api/v1/admin/notify", adminToken, map[string]any{"user_id": userID, "message": message}, &n)
	return &n, err
}

// comment posts a top-level comment on post as the owner of token and
// returns its id.
func (a *apiClient) comment(ctx context.Context, token string, post int64, body string) (int64, error) {
	var c struct {
		ID int64 `json:"id"`
	}
	err := a.call(ctx, http.MethodPost, fmt.Sprintf("/api/v1/posts/%d/comments", post), token, map[string]string{"body": body}, &c)
	return c.ID, err
}

// onlineConnections answers the number of WebSocket connections the server
// holds, across instances.
func (a *apiClient) onlineConnections(ctx context.Context, adminToken string) (int, error) {
	var o struct {
		Connections int `json:"connections"`
	}
	err := a.call(ctx, http.MethodGet, "/api/v1/admin/online", adminToken, nil, &o)
	return o.Connections, err
}
