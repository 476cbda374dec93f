package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

const usage = `usage: discuss <command> [flags]

commands:
  serve                          serve the API and live notifications
  migrate up|down|status         apply, roll back one, or list the migrations
  user create --username NAME [--role user|moderator|admin]
                                 the password from standard input or DISCUSS_USER_PASSWORD
` + seedUsage + `  version                        print the version

Every command takes --config FILE; DISCUSS_* variables override it.`

// run is the whole program: main only adds the process's signals,
// arguments, environment and standard streams, so tests call run directly.
// Only `user create` reads standard input, os.Stdin itself, when no
// password is in the environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // The usage asked for is printed.
	}
	return err
}

func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, rest, getenv, stdout, stderr)
	case "seed":
		return seedCmd(ctx, rest, getenv, stdout, stderr)
	case "version":
		fs, _ := newFlags("version", stderr)
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "discuss", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}

// askedForHelp reports whether arg, where a command expects its action,
// asks for the command's usage instead: -h, -help, --help or the word help.
func askedForHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// newFlags returns a flag set for one command with the common --config flag.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("discuss "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("config", "", "YAML configuration `file` over the defaults")
}

// parseFlags parses args, turning a bad flag into a usage error; -h and
// --help return flag.ErrHelp, which run answers with success. No command
// takes arguments after its flags: one left over is refused rather than
// ignored, as `migrate down --yes 3` would roll back one migration, not
// three.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err: err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// version is the module version stamped by the Go toolchain, with the VCS
// revision when the binary was built from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
