package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/service"
)

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, configPath := newFlags("migrate", stderr)
	yes := fs.Bool("yes", false, "roll back without asking (down only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: discuss migrate up|status [--config FILE]\n       discuss migrate down [--yes] [--config FILE]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return usagef("migrate needs up, down or status")
	}
	action := args[0]
	if askedForHelp(action) {
		fs.Usage()
		return flag.ErrHelp
	}
	if strings.HasPrefix(action, "-") {
		fs.Usage()
		return usagef("migrate takes up, down or status before its flags, not %q", action)
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if action != "up" && action != "down" && action != "status" {
		fs.Usage()
		return usagef("unknown migrate action %q", action)
	}
	cfg, err := loadConfig(*configPath, getenv)
	if err != nil {
		return err
	}
	db, m, err := openDB(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer closeDB(db)

	switch action {
	case "up":
		if err := m.RequireKnownVersion(ctx); err != nil {
			return err
		}
		steps, err := m.Up(ctx)
		for _, s := range steps {
			fmt.Fprintf(stdout, "applied %05d %s\n", s.Version, s.Name)
		}
		if err != nil {
			return err
		}
		if len(steps) == 0 {
			fmt.Fprintln(stdout, "schema is up to date")
		}
		// Migrations add columns that only the binary can fill: body_html.
		n, err := service.RenderStoredBodies(ctx, db)
		if n > 0 {
			fmt.Fprintf(stdout, "rendered body_html: %d rows of posts and comments\n", n)
		}
		if err != nil {
			return fmt.Errorf("render stored bodies: %w", err)
		}
	case "down":
		if !*yes {
			return describeDown(ctx, m, stdout)
		}
		step, ok, err := m.Down(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errNothingToRollBack()
		}
		fmt.Fprintf(stdout, "rolled back %05d %s\n", step.Version, step.Name)
	case "status":
		list, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, s := range list {
			state, at := "pending", ""
			if s.Applied {
				state, at = "applied", s.AppliedAt.Time.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// The list holds this binary's migrations only; a newer binary's
		// would otherwise go unmentioned.
		version, ahead, err := m.Ahead(ctx)
		if err != nil {
			return err
		}
		if ahead {
			fmt.Fprintf(stdout, "the database is at version %05d, which a newer binary applied: this binary's `migrate up` and `migrate down` refuse it\n", version)
		}
	}
	return nil
}

// describeDown says which migration `migrate down` would roll back and the
// statements it would run, and refuses to go on without --yes: rolling back
// the first migration drops every table, and a server still running on the
// database answers 500s until it is migrated up again.
func describeDown(ctx context.Context, m *migrations.Migrator, stdout io.Writer) error {
	step, downSQL, ok, err := m.Last(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errNothingToRollBack()
	}
	fmt.Fprintf(stdout, "migrate down would roll back %05d %s, running:\n\n%s\n\n", step.Version, step.Name, downSQL)
	return usagef("not rolled back: run again with --yes to do it")
}

// errNothingToRollBack answers `migrate down` on a database with no
// migration applied. It is an error, not a success that did nothing, so
// that a script that meant to roll one back does not go on as if it had.
func errNothingToRollBack() error {
	return errors.New("nothing to roll back: no migration is applied")
}
