package service

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// maxCachedUsers bounds the user cache; past it, expired entries are
// swept, and if that is not enough the cache starts again empty.
const maxCachedUsers = 100_000

// makeRoom keeps a bounded cache m below limit entries before one is added:
// at the bound it deletes the entries that have expired, and if that is
// not enough it empties m, which costs only reads that fill it again.
func makeRoom[K comparable, V any](m map[K]V, limit int, expired func(V) bool) {
	if len(m) < limit {
		return
	}
	maps.DeleteFunc(m, func(_ K, v V) bool { return expired(v) })
	if len(m) >= limit {
		clear(m)
	}
}

// userCache keeps the users that tokens name for a short while, so that a
// user's requests and socket connects do not each read the users table.
// A change of role forgets the user on every instance at once: Users.SetRole
// publishes it, and each instance's hub calls Auth.ForgetUser. ttl bounds
// how long a change the server was not told of (made by hand in the
// database, or announced while the broker was away) takes to apply; the
// hub also forgets every user when its broker subscription comes back.
type userCache struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	users map[int64]cachedUser
	// subjects maps an external issuer's (issuer, sub) to its local user
	// id. The pair names one user for good (a unique key; users are never
	// deleted), so it needs no expiry: the user it names is then read
	// through users like any other.
	subjects map[subjectKey]int64
	// gen counts forgets. A user read from the database is kept only if
	// no forget happened while it was read, so that a read that began
	// before a change cannot put the old row back after the change was
	// announced.
	gen uint64
}

type subjectKey struct{ issuer, subject string }

type cachedUser struct {
	user    model.User
	expires time.Time
}

func newUserCache(ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{ttl: ttl, now: now, users: make(map[int64]cachedUser), subjects: make(map[subjectKey]int64)}
}

// get returns a copy of user id if it is cached and fresh, and else the
// generation to pass to put with the user read from the database.
func (c *userCache) get(id int64) (*model.User, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.users[id]; ok && c.now().Before(e.expires) {
		u := e.user
		return &u, c.gen
	}
	return nil, c.gen
}

// put keeps a copy of u, read when the generation was gen.
func (c *userCache) put(u *model.User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	now := c.now()
	makeRoom(c.users, maxCachedUsers, func(e cachedUser) bool { return !now.Before(e.expires) })
	c.users[u.ID] = cachedUser{user: *u, expires: now.Add(c.ttl)}
}

// idOf returns the local user id of (issuer, subject), if known.
func (c *userCache) idOf(issuer, subject string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.subjects[subjectKey{issuer, subject}]
	return id, ok
}

// setSubject records that (issuer, subject) is user id.
func (c *userCache) setSubject(issuer, subject string, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subjects) >= maxCachedUsers {
		clear(c.subjects)
	}
	c.subjects[subjectKey{issuer, subject}] = id
}

// forget drops user id; forgetAll drops everyone.
func (c *userCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.users, id)
}

func (c *userCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.users)
}

// user returns user id, from the cache when it holds it.
func (a *Auth) user(ctx context.Context, id int64) (*model.User, error) {
	var gen uint64
	if a.users != nil {
		var u *model.User
		if u, gen = a.users.get(id); u != nil {
			return u, nil
		}
	}
	u, err := readUser(a.db.WithContext(ctx), id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrTokenUserMissing()
		}
		return nil, dbError(err)
	}
	if a.users != nil {
		a.users.put(u, gen)
	}
	return u, nil
}

// userColumns are the columns of a model.User, in the order readUser
// scans them.
const userColumns = "id, username, display_name, password_hash, role, issuer, subject, locale, created_at"

// readUser reads user id, scanned by hand: every request whose token's
// user the cache does not hold reads one (loadgen's thread-read, 15,000
// readers in turn, misses the cache on every page), and GORM's reflective
// Take cost as much as the query. TestTokenUserEveryField checks it against
// GORM's read. Errors: sql.ErrNoRows for no such user, else the database's.
func readUser(db *gorm.DB, id int64) (*model.User, error) {
	var u model.User
	err := db.Raw("SELECT "+userColumns+" FROM users WHERE id = ?", id).Row().
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.PasswordHash, &u.Role, &u.Issuer, &u.Subject, &u.Locale, &u.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// ForgetUser drops user id from the cache, so that the next request reads
// the changed row; the hub calls it when any instance changed the user.
func (a *Auth) ForgetUser(id int64) {
	if a.users != nil {
		a.users.forget(id)
	}
}

// ForgetUsers drops every cached user; the hub calls it when its broker
// subscription comes back, as changes announced meanwhile were lost.
func (a *Auth) ForgetUsers() {
	if a.users != nil {
		a.users.forgetAll()
	}
}
