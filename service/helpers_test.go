package service_test

// Helpers of any test in the package, beside the fixture: error and log
// checks, waits, goroutines started together, paged lists.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// wantCode fails the test unless err has the code and, when field is not
// empty, a message naming field.
func wantCode(t testing.TB, err error, code, field string) {
	t.Helper()
	if model.ErrorCode(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if field != "" && !strings.Contains(model.ErrorMessage(err), field) {
		t.Fatalf("error message %q does not name %s", model.ErrorMessage(err), field)
	}
}

// wantLogged fails the test unless log holds want.
func wantLogged(t testing.TB, log fmt.Stringer, want string) {
	t.Helper()
	if !strings.Contains(log.String(), want) {
		t.Errorf("the log lacks %q:\n%s", want, log)
	}
}

// testTimeout bounds every wait for something that happens at once on a
// working system: only a broken one reaches it.
const testTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test when it still does
// not after within; what names what was awaited.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// together runs work(0) to work(n-1), each in a goroutine of its own,
// released at once so that they overlap as much as they can, and returns
// when all have returned.
func together(n int, work func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			work(i)
		})
	}
	close(start)
	wg.Wait()
}

// startWorker runs work in a goroutine with a context that stop cancels,
// as the server runs its background loops. stop, which the test's end
// calls too, fails the test unless work returns within testTimeout of
// its context's end; what names the worker.
func startWorker(t testing.TB, what string, work func(ctx context.Context)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(testTimeout):
				t.Errorf("%s did not return after its context ended", what)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// walk reads a list page by page, from the first page (cursor "") to
// the one without a next cursor, through next, and returns every item in
// order. A list that has not ended after maxPages fails the test.
func walk[T any](t testing.TB, next func(cursor string) (*service.Page[T], error)) []T {
	t.Helper()
	const maxPages = 1000
	var all []T
	cursor := ""
	for range maxPages {
		page, err := next(cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
	t.Fatalf("the list did not end within %d pages", maxPages)
	return nil
}

// pluck returns what of gives for each of items, in order: their ids,
// most often.
func pluck[T, V any](items []T, of func(T) V) []V {
	out := make([]V, len(items))
	for i, item := range items {
		out[i] = of(item)
	}
	return out
}

// commentID and notificationID are what pluck takes most.
func commentID(c *model.Comment) int64           { return c.ID }
func notificationID(n *model.Notification) int64 { return n.ID }

func ptr[T any](v T) *T { return &v }

// errOf is the error of a call that also returns a value, for tests that
// look only at the error.
func errOf[T any](_ T, err error) error { return err }
