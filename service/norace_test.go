//go:build !race

package service_test

// raceDetector says whether the tests run under the race detector, which
// slows the pure-Go SQLite driver some twentyfold.
const raceDetector = false
