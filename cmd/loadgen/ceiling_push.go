package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"
)

// dbPush runs the transaction of a system notification (POST /admin/notify)
// straight through database/sql at the push scenario's rate, and times it
// as push times the server: from the moment the server stamps created_at
// (after the user's row is locked, before the INSERT) to the return of
// COMMIT. That is the part of push's created_at -> frame latency that is
// MariaDB's alone: the sequence's update and the insert (one query) and
// the commit's log flush. Set beside push (bench.sh compare push), the
// difference is the server's publish and write and the client's read.
func (r *runner) dbPush(ctx context.Context) error {
	db, err := r.ceilingDB()
	if err != nil {
		return err
	}
	defer db.Close()
	actor := r.all[0].id
	rate, n := r.events(200)
	var lat latencies
	start := time.Now()
	sent := pace(ctx, rate, n, r.cfg.workers, func(ctx context.Context, seq int, _ time.Time) {
		d, err := systemNotificationStatements(ctx, db, actor, r.all[rand.IntN(len(r.all))].id, fmt.Sprintf("db-push %d", seq))
		if err != nil {
			r.failed(err)
			return
		}
		lat.add(d)
	})
	r.rep.rows = append(r.rep.rows, row{name: "db-push: created_at to COMMIT", sum: lat.summary(), count: sent, elapsed: time.Since(start)})
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("asked for %.0f/s; %d workers, through database/sql", rate, r.cfg.workers))
	return errContext(ctx.Err())
}

// systemNotificationStatements is one system notification from actorID to
// userID, as the server writes it (service.Notifications.SendSystem): in
// one transaction, the user's row locked (its sequence and counts read),
// the user's sequence and counts moved and the notification inserted in
// one multi-statement query, then the commit. It returns the time
// from the created_at stamp to the commit's return.
func systemNotificationStatements(ctx context.Context, db *sql.DB, actorID, userID int64, message string) (time.Duration, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var seq, unread, unseen int64
	err = tx.QueryRowContext(ctx, "SELECT users.id, users.notification_seq, users.unread_notifications, users.unseen_notifications "+
		"FROM `users` WHERE users.id IN (?) ORDER BY users.id FOR UPDATE", userID).
		Scan(new(int64), &seq, &unread, &unseen)
	if err != nil {
		return 0, err
	}
	stamped := time.Now()
	if _, err := tx.ExecContext(ctx, "UPDATE users FORCE INDEX (PRIMARY) SET notification_seq = notification_seq + 1, "+
		"unread_notifications = unread_notifications + 1, unseen_notifications = unseen_notifications + 1 WHERE id IN (?);\n"+
		"INSERT INTO notifications (user_id, seq, type, actor_id, post_id, comment_id, excerpt, is_read, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		userID, userID, seq+1, "system", actorID, nil, nil, message, false, stamped.UTC()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(stamped), nil
}
