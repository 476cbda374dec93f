//go:build !linux

package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/websocket"
)

// pollers need epoll; elsewhere every connection is read through gorilla.
type pollers struct{}

func newPollers(*swarm) (*pollers, error) { return nil, errors.ErrUnsupported }

func (*pollers) dial(context.Context, *client, string, http.Header, *websocket.Dialer) (wsConn, error) {
	return nil, errors.ErrUnsupported
}

func (*pollers) stop() {}
