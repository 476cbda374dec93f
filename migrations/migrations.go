// Package migrations holds the versioned SQL schema of discuss, one folder
// per dialect, embedded in the binary and applied with goose.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/pressly/goose/v3"
)

//go:embed mysql/*.sql sqlite/*.sql
var files embed.FS

// Drivers whose schema this package knows, as named in the configuration.
const (
	MySQL  = "mysql"
	SQLite = "sqlite"
)

// Migrator applies the embedded migrations of one dialect to one database.
type Migrator struct {
	provider *goose.Provider
	dir      fs.FS // the dialect's files
}

// New returns a Migrator for db, whose driver is MySQL or SQLite.
func New(db *sql.DB, driver string) (*Migrator, error) {
	var dialect goose.Dialect
	switch driver {
	case MySQL:
		dialect = goose.DialectMySQL
	case SQLite:
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("migrations: unknown driver %q", driver)
	}
	dir, err := fs.Sub(files, driver)
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(dialect, db, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{provider: p, dir: dir}, nil
}

// Step is one migration applied or rolled back.
type Step struct {
	Version   int64
	Name      string
	Direction string
}

// Up applies every pending migration and returns what it applied, in order.
func (m *Migrator) Up(ctx context.Context) ([]Step, error) {
	results, err := m.provider.Up(ctx)
	steps := stepsOf(results)
	if err != nil {
		return steps, fmt.Errorf("migrate up: %w", err)
	}
	return steps, nil
}

// UpTo applies the pending migrations up to and including version, in
// order, and returns what it applied; tests use it to put data in an older
// schema before migrating it.
func (m *Migrator) UpTo(ctx context.Context, version int64) ([]Step, error) {
	results, err := m.provider.UpTo(ctx, version)
	steps := stepsOf(results)
	if err != nil {
		return steps, fmt.Errorf("migrate up to %d: %w", version, err)
	}
	return steps, nil
}

// Down rolls back the most recent migration. It returns ok false when there
// was nothing to roll back.
func (m *Migrator) Down(ctx context.Context) (step Step, ok bool, err error) {
	if err := m.RequireKnownVersion(ctx); err != nil {
		return Step{}, false, err
	}
	r, err := m.provider.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return Step{}, false, nil
	}
	if err != nil {
		return Step{}, false, fmt.Errorf("migrate down: %w", err)
	}
	return stepsOf([]*goose.MigrationResult{r})[0], true, nil
}

// Status is one known migration and whether it is applied.
type Status struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt sql.NullTime
}

// Status lists every embedded migration, oldest first.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	list, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: reading the database's state: %w", err)
	}
	out := make([]Status, 0, len(list))
	for _, s := range list {
		st := Status{Version: s.Source.Version, Name: path.Base(s.Source.Path), Applied: s.State == goose.StateApplied}
		if st.Applied {
			st.AppliedAt = sql.NullTime{Time: s.AppliedAt, Valid: true}
		}
		out = append(out, st)
	}
	return out, nil
}

// Pending reports whether any embedded migration is not applied yet.
func (m *Migrator) Pending(ctx context.Context) (bool, error) {
	pending, err := m.provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations: reading the database's state: %w", err)
	}
	return pending, nil
}

func stepsOf(results []*goose.MigrationResult) []Step {
	steps := make([]Step, 0, len(results))
	for _, r := range results {
		if r == nil || r.Source == nil {
			continue
		}
		steps = append(steps, Step{Version: r.Source.Version, Name: path.Base(r.Source.Path), Direction: r.Direction})
	}
	return steps
}

// Last returns the most recent applied migration, the one Down would roll
// back, with the SQL of its Down section; ok is false when none is
// applied. `discuss migrate down` shows it before it asks for --yes.
func (m *Migrator) Last(ctx context.Context) (step Step, downSQL string, ok bool, err error) {
	version, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return Step{}, "", false, fmt.Errorf("migrations: reading the database's state: %w", err)
	}
	if version == 0 {
		return Step{}, "", false, nil
	}
	for _, src := range m.provider.ListSources() {
		if src.Version != version {
			continue
		}
		text, err := fs.ReadFile(m.dir, path.Base(src.Path))
		if err != nil {
			return Step{}, "", false, fmt.Errorf("migrations: %w", err)
		}
		return Step{Version: version, Name: path.Base(src.Path), Direction: "down"}, downSection(string(text)), true, nil
	}
	return Step{}, "", false, unknownVersion(version, m.latest())
}

// Ahead returns the database's version, and ok true when a newer binary
// migrated it past this binary's last migration, which Status cannot list.
func (m *Migrator) Ahead(ctx context.Context) (version int64, ok bool, err error) {
	version, err = m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("migrations: reading the database's state: %w", err)
	}
	return version, version > m.latest(), nil
}

// RequireKnownVersion refuses a database that a newer binary migrated
// further than this one knows, for `migrate up` and Down: goose alone
// would call its schema up to date, and fail a down with a bare "version
// not found".
func (m *Migrator) RequireKnownVersion(ctx context.Context) error {
	version, ahead, err := m.Ahead(ctx)
	if err != nil {
		return err
	}
	if ahead {
		return unknownVersion(version, m.latest())
	}
	return nil
}

// latest is the version of this binary's last migration.
func (m *Migrator) latest() int64 {
	sources := m.provider.ListSources()
	if len(sources) == 0 {
		return 0
	}
	return sources[len(sources)-1].Version
}

func unknownVersion(version, latest int64) error {
	return fmt.Errorf("migrations: the database is at version %05d, past this binary's last migration %05d: a newer binary migrated it; use that one (its `migrate down` rolls back)", version, latest)
}

// downSection returns the statements after a goose file's Down annotation.
func downSection(text string) string {
	_, down, _ := strings.Cut(text, "-- +goose Down")
	var lines []string
	for _, l := range strings.Split(down, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "-- +goose") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
