//go:build loadtest

// `discuss seed` gives every account it makes one known password, so it is
// built only into load-test binaries (go build -tags loadtest, as
// cmd/loadgen/bench.sh does); seed_disabled.go stands in for it otherwise.

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// seedUsage is seed's line in the command list.
const seedUsage = "  seed --users N [--posts M] [--thread-comments K] [--out FILE]   load-test users and tokens\n"

// seedBatch is the number of rows per INSERT: large enough that 15,000
// users take a handful of round trips, small enough to stay far below
// MySQL's max_allowed_packet.
const seedBatch = 1000

// seedPassword is the password of every seeded account unless --password
// says otherwise. Seeded accounts exist for load tests only.
const seedPassword = "load-test-password"

// seedOptions are the flags of `discuss seed`.
type seedOptions struct {
	users, posts, threadComments int
	prefix, password             string
}

// seedCmd bulk-creates load-test accounts, posts and optionally one long
// thread directly through GORM, and prints one line per user:
// "id username token post_id", post_id being the user's newest post or 0.
//
// Registering 15,000 users through the API costs 15,000 bcrypt hashes
// (minutes of CPU); seed hashes the shared password once and reuses it, so
// every seeded account has the same password. That is acceptable only
// because these accounts are for load tests.
//
// Users are found or created by name (prefix_1, prefix_2, ...), so running
// seed again prints the same users with fresh tokens; posts and the thread
// are created anew on every run.
func seedCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, configPath := newFlags("seed", stderr)
	var o seedOptions
	fs.IntVar(&o.users, "users", 0, "`number` of users to find or create (prefix_1 .. prefix_N)")
	fs.StringVar(&o.prefix, "prefix", "load", "username `prefix`")
	fs.IntVar(&o.posts, "posts", 0, "`number` of posts to create, authored in turn by the users")
	fs.IntVar(&o.threadComments, "thread-comments", 0, "also create one post with this `number` of comments (a quarter top-level, the rest replies)")
	fs.StringVar(&o.password, "password", seedPassword, "the `password` shared by every seeded user")
	outPath := fs.String("out", "", "write the user lines to this `file` instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.users <= 0 {
		fs.Usage()
		return usagef("--users must be a positive number")
	}
	if o.posts < 0 || o.threadComments < 0 {
		return usagef("--posts and --thread-comments cannot be negative")
	}
	if _, err := model.Username(seedUsername(o.prefix, o.users)); err != nil {
		return usagef("--prefix %q: usernames like %s are invalid: %v", o.prefix, seedUsername(o.prefix, o.users), err)
	}
	if err := model.Password(o.password); err != nil {
		return &usageError{err: err}
	}

	b, closeBase, err := openBase(ctx, *configPath, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer closeBase()
	cfg, db, auth := b.cfg, b.db, b.auth

	start := time.Now()
	hash, err := service.HashPassword(o.password, cfg.Auth.BcryptCost)
	if err != nil {
		return err
	}
	db = db.WithContext(ctx)
	users, created, err := seedUsers(db, o.prefix, o.users, hash)
	if err != nil {
		return err
	}
	if err := seedPosts(db, users, o.posts); err != nil {
		return err
	}
	var threadID int64
	if o.threadComments > 0 {
		if threadID, err = seedThread(db, users, o.threadComments); err != nil {
			return err
		}
	}
	// The rows went in without body_html: render them now, as a server's
	// start would, so that the load test measures serving, not this.
	if _, err := service.RenderStoredBodies(ctx, db); err != nil {
		return err
	}
	latest, err := latestPosts(db, users)
	if err != nil {
		return err
	}

	if err := writeSeedOutput(*outPath, stdout, auth, users, latest); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "seed: %d users (%d new), %d posts", len(users), created, o.posts)
	if threadID != 0 {
		fmt.Fprintf(stderr, ", thread post %d with %d comments", threadID, o.threadComments)
	}
	fmt.Fprintf(stderr, " in %s; every seeded user's password is the --password value\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func seedUsername(prefix string, i int) string { return prefix + "_" + strconv.Itoa(i) }

// seedUsers finds or creates prefix_1 .. prefix_n, returned in that order,
// with the number it created.
func seedUsers(db *gorm.DB, prefix string, n int, hash string) ([]model.User, int, error) {
	users := make([]model.User, 0, n)
	created := 0
	for lo := 1; lo <= n; lo += seedBatch {
		hi := min(lo+seedBatch-1, n)
		names := make([]string, 0, hi-lo+1)
		for i := lo; i <= hi; i++ {
			names = append(names, seedUsername(prefix, i))
		}
		found, err := usersByName(db, names)
		if err != nil {
			return nil, 0, err
		}
		now := service.Now()
		var missing []model.User
		for _, name := range names {
			if _, ok := found[model.UsernameKey(name)]; !ok {
				h := hash
				missing = append(missing, model.User{Username: name, DisplayName: name, PasswordHash: &h, Role: model.RoleUser, CreatedAt: now})
			}
		}
		if len(missing) > 0 {
			if err := db.Create(&missing).Error; err != nil {
				return nil, 0, fmt.Errorf("insert users: %w", err)
			}
			created += len(missing)
			// Read the ids back by name rather than trusting the driver to
			// fill them in: a multi-row insert's ids are consecutive only
			// under some auto-increment lock modes.
			if found, err = usersByName(db, names); err != nil {
				return nil, 0, err
			}
		}
		for _, name := range names {
			u, ok := found[model.UsernameKey(name)]
			if !ok {
				return nil, 0, fmt.Errorf("user %s missing after insert", name)
			}
			users = append(users, u)
		}
	}
	return users, created, nil
}

// usersByName returns the users with the given names, by username key.
func usersByName(db *gorm.DB, names []string) (map[string]model.User, error) {
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = model.UsernameKey(name)
	}
	var rows []model.User
	if err := db.Where("username_key IN ?", keys).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	m := make(map[string]model.User, len(rows))
	for _, u := range rows {
		m[model.UsernameKey(u.Username)] = u
	}
	return m, nil
}

// seedPosts creates n posts, authored in turn by users, so that with
// n >= len(users) every user owns a post that others can comment on.
func seedPosts(db *gorm.DB, users []model.User, n int) error {
	for lo := 0; lo < n; lo += seedBatch {
		hi := min(lo+seedBatch, n)
		now := service.Now()
		batch := make([]model.Post, 0, hi-lo)
		for k := lo; k < hi; k++ {
			batch = append(batch, model.Post{
				AuthorID:       users[k%len(users)].ID,
				Title:          fmt.Sprintf("Load test post %d", k+1),
				Body:           "A post made by `discuss seed` for load tests.",
				CreatedAt:      now,
				UpdatedAt:      now,
				LastActivityAt: now,
			})
		}
		if err := db.Create(&batch).Error; err != nil {
			return fmt.Errorf("insert posts: %w", err)
		}
	}
	return nil
}

// threadRepliesPerRoot is how many replies each top-level comment of the
// seeded thread gets: three, so that a thread page shows full previews.
const threadRepliesPerRoot = 3

// seedThread creates one post by users[0] with n comments: top-level
// comments carrying up to three replies each, by users in turn. The
// counters are written with the rows (the post's comment_count, each
// top-level comment's reply_count, then its last_comment_id), as the
// comments service would have left them. It returns the post's id.
func seedThread(db *gorm.DB, users []model.User, n int) (int64, error) {
	now := service.Now()
	post := model.Post{
		AuthorID: users[0].ID, Title: fmt.Sprintf("Load test thread of %d comments", n),
		Body:         "A thread made by `discuss seed` for the thread-read load test.",
		CommentCount: int64(n), CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
	}
	if err := db.Create(&post).Error; err != nil {
		return 0, fmt.Errorf("insert thread post: %w", err)
	}
	roots := (n + threadRepliesPerRoot) / (threadRepliesPerRoot + 1)
	author := func(k int) int64 { return users[k%len(users)].ID }

	// Top-level comments first, each already counting the replies it will get.
	replyCounts := make([]int64, roots)
	for k := range n - roots {
		replyCounts[k/threadRepliesPerRoot]++
	}
	rootIDs := make([]int64, 0, roots)
	for lo := 0; lo < roots; lo += seedBatch {
		hi := min(lo+seedBatch, roots)
		batch := make([]model.Comment, 0, hi-lo)
		for k := lo; k < hi; k++ {
			batch = append(batch, model.Comment{
				PostID: post.ID, AuthorID: author(k), Body: fmt.Sprintf("Top-level comment %d of the load test thread.", k+1),
				ReplyCount: replyCounts[k], CreatedAt: now,
			})
		}
		if err := db.Create(&batch).Error; err != nil {
			return 0, fmt.Errorf("insert thread comments: %w", err)
		}
		// Read the ids back in id order (see seedUsers for why).
		var ids []int64
		err := db.Model(&model.Comment{}).Where("post_id = ? AND root_id IS NULL", post.ID).
			Order("id").Offset(lo).Limit(hi-lo).Pluck("id", &ids).Error
		if err != nil {
			return 0, fmt.Errorf("read thread comments: %w", err)
		}
		rootIDs = append(rootIDs, ids...)
	}

	// Then the replies, each replying to its top-level comment.
	replies := n - roots
	for lo := 0; lo < replies; lo += seedBatch {
		hi := min(lo+seedBatch, replies)
		batch := make([]model.Comment, 0, hi-lo)
		for k := lo; k < hi; k++ {
			r := k / threadRepliesPerRoot
			root, to := rootIDs[r], author(r)
			batch = append(batch, model.Comment{
				PostID: post.ID, ParentID: &root, RootID: &root, AuthorID: author(roots + k), ReplyToUserID: &to,
				Body: fmt.Sprintf("Reply %d of the load test thread.", k+1), CreatedAt: now,
			})
		}
		if err := db.Create(&batch).Error; err != nil {
			return 0, fmt.Errorf("insert thread replies: %w", err)
		}
	}
	// The live thread orders comments after the post's newest one.
	err := db.Exec("UPDATE posts SET last_comment_id = (SELECT MAX(id) FROM comments WHERE post_id = ?) WHERE id = ?", post.ID, post.ID).Error
	if err != nil {
		return 0, fmt.Errorf("set the thread's newest comment: %w", err)
	}
	return post.ID, nil
}

// latestPosts maps each user id to the id of their newest live post.
func latestPosts(db *gorm.DB, users []model.User) (map[int64]int64, error) {
	latest := make(map[int64]int64, len(users))
	for lo := 0; lo < len(users); lo += seedBatch {
		hi := min(lo+seedBatch, len(users))
		ids := make([]int64, 0, hi-lo)
		for _, u := range users[lo:hi] {
			ids = append(ids, u.ID)
		}
		var rows []struct{ AuthorID, ID int64 }
		err := db.Model(&model.Post{}).Select("author_id, MAX(id) AS id").
			Where("author_id IN ? AND deleted_at IS NULL", ids).Group("author_id").Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("read posts: %w", err)
		}
		for _, r := range rows {
			latest[r.AuthorID] = r.ID
		}
	}
	return latest, nil
}

// writeSeedOutput writes the user lines to the file at path, or to stdout
// when path is empty.
func writeSeedOutput(path string, stdout io.Writer, auth *service.Auth, users []model.User, latest map[int64]int64) error {
	if path == "" {
		return writeSeedLines(stdout, auth, users, latest)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeSeedLines(f, auth, users, latest); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeSeedLines writes "id username token post_id" for each user.
func writeSeedLines(w io.Writer, auth *service.Auth, users []model.User, latest map[int64]int64) error {
	bw := bufio.NewWriter(w)
	for i := range users {
		token, _, err := auth.IssueToken(&users[i])
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "%d %s %s %d\n", users[i].ID, users[i].Username, token, latest[users[i].ID])
	}
	return bw.Flush()
}
