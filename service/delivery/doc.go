// Package delivery renders and sends what reaches users who are away: mail
// through an SMTP server (go-mail) and Web Push through the browsers' push
// services (webpush-go), and keeps the VAPID key pair Web Push signs with.
// It implements service.Mailer and service.Pusher; what is owed to whom,
// and when, is decided by the service's outbox, not here.
package delivery
