package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/quizsite/discuss/service"
)

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: discuss user create --username NAME --password PASS [--role user|moderator|admin]")
		return usagef("user needs the create action")
	}
	fs, configPath := newFlags("user create", stderr)
	username := fs.String("username", "", "the new user's `name`")
	password := fs.String("password", "", "the new user's `password` (8 to 128 characters)")
	role := fs.String("role", "user", "`role`: user, moderator or admin")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *username == "" || *password == "" {
		fs.Usage()
		return usagef("--username and --password are required")
	}
	cfg, err := loadConfig(*configPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	db, m, err := openDB(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if err := requireSchema(ctx, cfg, m, log); err != nil {
		return err
	}
	secret, err := signingSecret(cfg, log)
	if err != nil {
		return err
	}
	ac, err := authConfig(cfg, secret)
	if err != nil {
		return err
	}
	auth, err := service.NewAuth(db, ac)
	if err != nil {
		return err
	}
	u, err := auth.CreateUser(ctx, *username, *password, *role)
	if err != nil {
		return err
	}
	log.Info("user created", slog.Int64("id", u.ID), slog.String("username", u.Username), slog.String("role", u.Role))
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Username, u.Role)
	return nil
}
