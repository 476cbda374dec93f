package api

import (
	"context"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// Offline delivery: the user's preferences, the links of the mail (which
// work without sign-in) and the Web Push subscriptions.

func (s *Server) getPreferences(c *gin.Context) (int, any, error) {
	p, err := s.offline.Preferences(ctx(c))
	return http.StatusOK, p, err
}

func (s *Server) patchPreferences(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusOK, func(ctx context.Context, req *model.PreferencesPatch) (any, error) {
		return s.offline.UpdatePreferences(ctx, *req)
	})
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (s *Server) verifyEmail(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusOK, func(ctx context.Context, req *tokenRequest) (any, error) {
		return s.offline.VerifyEmail(ctx, req.Token)
	})
}

// unsubscribedAnswer is what the one-click unsubscribe answers.
type unsubscribedAnswer struct {
	EmailDelivery string `json:"email_delivery"`
}

// unsubscribe is RFC 8058's one-click unsubscribe: a mail client POSTs
// List-Unsubscribe=One-Click (form-encoded) to the link of the message's
// List-Unsubscribe header. The token in the link is the authority; the
// body is not needed.
func (s *Server) unsubscribe(c *gin.Context) (int, any, error) {
	if err := s.offline.Unsubscribe(ctx(c), c.Query("token")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, unsubscribedAnswer{EmailDelivery: model.DeliveryOff}, nil
}

// unsubscribePage answers the same link opened in a browser (the link in
// the message's text) with a button that POSTs it: a GET must change
// nothing, as mail scanners follow links.
func (s *Server) unsubscribePage(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	_ = unsubscribeTemplate.Execute(c.Writer, nil)
}

var unsubscribeTemplate = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Unsubscribe · 退订</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<form method="post">
<p>Stop the email from Discuss? · 不再接收讨论区的邮件？</p>
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe · 退订</button>
</form>
</body></html>
`))

type pushKeyAnswer struct {
	PublicKey string `json:"public_key"`
}

func (s *Server) pushKey(_ *gin.Context) (int, any, error) {
	key, err := s.offline.PushKey()
	return http.StatusOK, pushKeyAnswer{PublicKey: key}, err
}

type pushSubscriptionRequest struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

type pushSubscriptionAnswer struct {
	Endpoint string `json:"endpoint"`
}

func (s *Server) subscribePush(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusCreated, func(ctx context.Context, req *pushSubscriptionRequest) (any, error) {
		err := s.offline.Subscribe(ctx, model.PushSubscription{Endpoint: req.Endpoint, P256DH: req.Keys.P256DH, Auth: req.Keys.Auth})
		return pushSubscriptionAnswer{Endpoint: req.Endpoint}, err
	})
}

func (s *Server) unsubscribePush(c *gin.Context) (int, any, error) {
	// The untyped nil answers 204 without a body.
	return fromBody(c, http.StatusNoContent, func(ctx context.Context, req *pushSubscriptionAnswer) (any, error) {
		return nil, s.offline.UnsubscribePush(ctx, req.Endpoint)
	})
}
