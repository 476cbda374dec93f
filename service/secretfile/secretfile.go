// Package secretfile keeps a secret that the server makes on its first
// start in a file, so that later starts, and other processes started at the
// same moment, use the same one: the signing secret of a SQLite setup and
// the VAPID key of Web Push.
package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Keep returns the secret kept in the file at path, without the space
// around it, or, when there is no file, makes one with generate, keeps it
// there and returns it with created true. Of callers that find no file at
// once, in this process or in others, the first to keep its secret wins and
// the others read and return that one (created false). A secret read back
// is the caller's to check: Keep knows nothing of its form. what names the
// secret in errors.
func Keep(path, what string, generate func() (string, error)) (secret string, created bool, err error) {
	secret, err = read(path, what)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	if secret, err = generate(); err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", false, fmt.Errorf("keep %s: %w", what, err)
	}
	err = create(path, []byte(secret+"\n"))
	if errors.Is(err, fs.ErrExist) {
		// Another caller kept its secret between the read and now.
		secret, err = read(path, what)
		return secret, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("keep %s: %w", what, err)
	}
	return secret, true, nil
}

// read returns the secret in the file at path. Errors: one that wraps
// fs.ErrNotExist when there is no file.
func read(path, what string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// create makes the file at path with data, only if there is none: it fails
// with fs.ErrExist otherwise. The data is written to a new temporary file
// beside path (O_EXCL), which is then linked to path. The link is as
// exclusive as an O_EXCL open of path, but the file appears whole: with
// the open, a caller that lost the race could read the winner's file
// before it was written, empty.
func create(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
