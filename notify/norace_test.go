//go:build !race

package notify

// raceDetector says whether the tests run under the race detector, whose
// sync.Pool drops some of what it is given.
const raceDetector = false
