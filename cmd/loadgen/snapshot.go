package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// snapshotHoles measures what the hub's reads guard against: a read that
// shows a user's notification without the one before it, although the
// second waited for the first's lock before it was written. --workers
// writers give one user notification after notification the way the
// server does (lock the user's row, read its sequence number, insert the
// notification with the next, move the number on, commit) while as many
// readers list the user's newest notifications and count the holes in
// the numbers they see. Each of two phases runs for --duration: reads of
// whatever has committed, as the REST list and the hub read before they
// were bounded; then reads bounded by the user's sequence number read in
// an earlier statement, as they are now (see upToHead in package notify).
// On MariaDB 10.11 the first phase finds holes (its read snapshot collects
// running transactions one by one) and the second none.
//
// The tables are the scenario's own, made in the --dsn database and
// dropped at the end.
func (r *runner) snapshotHoles(ctx context.Context) error {
	r.rep.conns = 0
	db, err := openCeilingDB(r.cfg.dsn, 2*r.cfg.workers)
	if err != nil {
		return err
	}
	defer db.Close()
	setup := []string{
		"DROP TABLE IF EXISTS loadgen_snapshot_notes, loadgen_snapshot_users",
		"CREATE TABLE loadgen_snapshot_users (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE loadgen_snapshot_notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL, seq BIGINT NOT NULL, KEY (user_id, id)) ENGINE=InnoDB",
		"INSERT INTO loadgen_snapshot_users VALUES (1, 0)",
	}
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	defer func() {
		_, _ = db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS loadgen_snapshot_notes, loadgen_snapshot_users")
	}()
	for _, bounded := range []bool{false, true} {
		name := "snapshot: reads of what has committed"
		if bounded {
			name = "snapshot: reads bounded by an earlier head"
		}
		writes, reads, holes, err := snapshotPhase(ctx, db, r.cfg.workers, r.cfg.duration, bounded)
		if err != nil {
			return err
		}
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s: %d holes in %d reads, %d notifications written", name, holes, reads, writes))
		if bounded && holes > 0 {
			r.failed(fmt.Errorf("%d holes in reads bounded by a head read before them", holes))
		}
	}
	return errContext(ctx.Err())
}

// snapshotPhase runs the writers and readers of snapshotHoles for d.
func snapshotPhase(ctx context.Context, db *sql.DB, workers int, d time.Duration, bounded bool) (writes, reads, holes int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var nWrites, nReads, nHoles atomic.Int64
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(e error) {
		if e == nil || errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled) {
			return
		}
		errMu.Lock()
		defer errMu.Unlock()
		firstErr = cmp.Or(firstErr, e)
	}
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := snapshotWrite(ctx, db); err != nil {
					fail(err)
					continue
				}
				nWrites.Add(1)
			}
		})
		wg.Go(func() {
			for ctx.Err() == nil {
				h, err := snapshotRead(ctx, db, bounded)
				if err != nil {
					fail(err)
					continue
				}
				nReads.Add(1)
				nHoles.Add(h)
			}
		})
	}
	wg.Wait()
	return nWrites.Load(), nReads.Load(), nHoles.Load(), firstErr
}

// snapshotWrite gives the user one notification as the server does.
func snapshotWrite(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT seq FROM loadgen_snapshot_users WHERE id = 1 FOR UPDATE").Scan(&seq); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO loadgen_snapshot_notes (user_id, seq) VALUES (1, ?)", seq+1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE loadgen_snapshot_users SET seq = seq + 1 WHERE id = 1"); err != nil {
		return err
	}
	return tx.Commit()
}

// snapshotRead lists the user's newest notifications and counts the holes
// in their sequence numbers; bounded, it first reads the user's number in
// a statement of its own and lists only up to it.
func snapshotRead(ctx context.Context, db *sql.DB, bounded bool) (int64, error) {
	const newest = "SELECT seq FROM loadgen_snapshot_notes WHERE user_id = 1 AND seq <= ? AND id > (SELECT COALESCE(MAX(id), 0) - 40 FROM loadgen_snapshot_notes) ORDER BY id"
	head := int64(1) << 62
	if bounded {
		if err := db.QueryRowContext(ctx, "SELECT seq FROM loadgen_snapshot_users WHERE id = 1").Scan(&head); err != nil {
			return 0, err
		}
	}
	rows, err := db.QueryContext(ctx, newest, head)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var holes int64
	prev := int64(-1)
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return 0, err
		}
		if prev >= 0 && seq != prev+1 {
			holes++
		}
		prev = seq
	}
	return holes, rows.Err()
}
