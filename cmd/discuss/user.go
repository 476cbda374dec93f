package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	b, closeBase, err := openBase(ctx, *configPath, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeBase()
	u, err := b.auth.CreateUser(ctx, *username, *password, *role)
	if err != nil {
		return err
	}
	b.log.Info("user created", slog.Int64("id", u.ID), slog.String("username", u.Username), slog.String("role", u.Role))
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Username, u.Role)
	return nil
}
