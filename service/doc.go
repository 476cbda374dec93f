// Package service holds the business rules of discuss: accounts and tokens,
// posts, comments, notifications and announcements. Services take ctx first
// and the signed-in user from it (model.UserFrom); they import model and
// nothing else of ours, and call the hub only through the small Publisher
// interface declared here.
//
// # Invariants
//
// Every writer keeps these; a change that breaks one breaks the others'
// guarantees.
//
//   - Lock order. A transaction takes its row locks in one order: the post
//     (lockLivePost), then user rows in ascending id (lockUsers, taken all
//     at once by a notification plan before anything is inserted), then
//     comment rows. A new comment takes all three (a reply's parent and
//     root) in one statement on MySQL (lockForComment), whose members lock
//     in that order. Writers of one thread therefore queue on the post row
//     instead of deadlocking (new comments queue in memory first, two per
//     post in their transactions: postGate), and a transaction that
//     notifies users cannot close a cycle with one that notifies it back.
//     Where an insert's foreign key check would share-lock a row that the
//     transaction updates later, that row is locked for update first: two
//     holders of a shared lock that both want to upgrade it deadlock. What
//     InnoDB's gap locks still cause, transact retries. The fan-out's
//     batches take their fanout_outbox row before their user rows: nothing
//     that holds user rows waits for an existing outbox row (a new comment
//     inserts a new one), so this closes no cycle (see
//     notifications_fanout.go).
//   - Write in one transaction, publish after commit. A change writes its
//     notification rows and moves its counters in its own transaction and
//     gets back an Outbox; the Outbox is published only after commit and
//     dropped on rollback. Publishing never fails a request: the rows are
//     the truth, and a client that missed a message reads it back by id.
//   - One sequence per user, under the user's lock. Each user's
//     notifications are numbered 1, 2, 3... from users.notification_seq,
//     read and moved while the user's row is locked, so that one user's
//     notifications commit in id order and in seq order with no seq
//     skipped. The hub's ordered, exactly-once delivery rests on it. The
//     fan-out's thread_comment rows, written after the comment commits,
//     are numbered the same way, a batch of users at a time.
//   - Counts are exact. Counters (likes, comments, replies) move with
//     atomic SQL (bumpCounter; commentAdded for a new comment's post) in
//     the transaction of the change that moves
//     them; so do each user's unread and unseen notification counts, under
//     the user's lock (notifications_counts.go), and each user's counts are
//     published in the order they were taken.
//   - Thread versions move with the thread. Every transaction that changes
//     what a post's comment pages show to everyone moves a version in the
//     same transaction: posts.thread_version (threadChanged, or in an
//     UPDATE of the post it makes anyway, as commentAdded does) when it
//     holds the post's lock, thread_like_versions (threadLikesChanged, its
//     last lock) for a like of a comment. The page cache serves an entry
//     only while they stand still (comments_cache.go); a writer that forgets
//     them leaves every instance serving the page as it was.
//   - Errors are returned, not logged; only publishing and retention, which
//     run after or outside a request, log theirs. An error is a
//     *model.Error whose code says what the caller did wrong (EINVALID
//     naming the field, ENOTFOUND, EPERMISSION...), EUNAVAILABLE when the
//     database cannot be reached (dbError), or else an internal error. No
//     method answers (nil, nil); each says which codes it returns.
//
// # Where to look
//
// tx.go holds the transaction and row plumbing every service uses.
// Accounts and sign-in are auth.go, tokens auth_token.go, and the quiz
// site's users, whose tokens its own issuer signs, auth_external.go. Posts
// and comments are in posts.go, comments.go (writes; comments_sql.go the
// hand-written statements of a new comment, which sqlraw.go's helpers run;
// comments_delete.go the deletion) and comments_read.go (reads), comments_cache.go the cache
// of thread pages that the API reads through (ListJSON),
// comments_cache_store.go its entries and their LRU; postgate.go queues a
// post's new comments in memory (see the lock order); likes.go is the Like
// and Unlike they share, edit.go their edits of a body and a spoiler flag;
// subscriptions.go keeps each user's notification level on each post.
// Notifications are divided by step: notifications_plan.go works out and
// locks who a change notifies, notifications_write.go writes the rows
// inside the change's transaction, notifications_likes.go does both for a
// like, notifications_counts.go keeps each user's unread and unseen counts
// and removes rows, notifications_fanout.go tells a post's watchers from an
// outbox after it, notifications_publish.go tells the hub after commit,
// notifications_store.go is the hub's NotificationStore (per-user reads and
// marks), notifications.go the REST calls of the signed-in user,
// notifications_grouped.go their grouped view, and retention.go the
// cleanup job. bodies.go renders the Markdown of posts and comments into
// the body_html stored with them (package markdown), before the write's
// transaction, and renders stored rows an older renderer made. Moderation:
// hidden.go is who sees hidden content (the SQL of model.Visible) and the
// hiding itself, moderation.go reports, moderation_queue.go the moderators'
// queue, their resolutions and the log, blocks.go blocks. Offline delivery
// (mail and Web Push to users who are not connected) is offline.go
// (preferences and the signed links of the mail), offline_mail.go (the mail
// outbox) and offline_push.go (Web Push and the presence record the hubs
// keep); service/delivery renders and sends, behind the Mailer and Pusher
// interfaces declared there. The outbox's claim takes a
// delivery_preferences row and no other lock, and sends with no transaction
// open.
package service
