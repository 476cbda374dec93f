package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

const userUsage = "usage: discuss user create --username NAME [--role user|moderator|admin]\n" +
	"the password comes from " + userPasswordEnv + ", or standard input (one line; asked for without echo on a terminal)"

// userPasswordEnv holds the new user's password for scripts that cannot
// pipe it; the command line cannot, as ps and shell history show it.
const userPasswordEnv = "DISCUSS_USER_PASSWORD"

// passwordLineMax bounds the line read from standard input: far more than
// the 128 runes (512 bytes) a password may have, so that a longer line is
// refused by the password rules rather than cut.
const passwordLineMax = 4096

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && askedForHelp(args[0]) {
		fmt.Fprintln(stderr, userUsage)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, userUsage)
		return usagef("user needs the create action")
	}
	fs, configPath := newFlags("user create", stderr)
	username := fs.String("username", "", "the new user's `name`")
	role := fs.String("role", "user", "`role`: user, moderator or admin")
	// --password is still parsed, so that scripts written for it are told
	// why it went and what replaces it rather than "flag not defined".
	fs.String("password", "", "refused: pipe the password on standard input or set "+userPasswordEnv)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	passwordFlag := false
	fs.Visit(func(f *flag.Flag) { passwordFlag = passwordFlag || f.Name == "password" })
	if passwordFlag {
		return usagef("--password is refused: the command line shows in ps and shell history; pipe the password on standard input or set %s", userPasswordEnv)
	}
	if *username == "" {
		fs.Usage()
		return usagef("--username is required")
	}
	password, err := newUserPassword(getenv, os.Stdin, stderr)
	if err != nil {
		return err
	}
	b, closeBase, err := openBase(ctx, *configPath, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer closeBase()
	u, err := b.auth.CreateUser(ctx, *username, password, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Username, u.Role)
	return nil
}

// newUserPassword returns the password of the user being created: from
// userPasswordEnv when set, else typed twice at the terminal without echo
// when stdin is one, else the first line of stdin, without its line ending
// (spaces are kept: they are part of the secret).
func newUserPassword(getenv func(string) string, stdin *os.File, prompt io.Writer) (string, error) {
	if p := getenv(userPasswordEnv); p != "" {
		return p, nil
	}
	if fd := int(stdin.Fd()); term.IsTerminal(fd) {
		first, err := promptPassword(fd, prompt, "Password: ")
		if err != nil {
			return "", err
		}
		again, err := promptPassword(fd, prompt, "Repeat it: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", usagef("the two passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, passwordLineMax)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usagef("no password: pipe it on standard input or set %s", userPasswordEnv)
	}
	return line, nil
}

func promptPassword(fd int, prompt io.Writer, label string) (string, error) {
	fmt.Fprint(prompt, label)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(p), nil
}
