//go:build race

package httpapi_test

// Under the race detector every request costs about ten times more, and
// the suite's steps run one after another (the detector has little to
// find in them): a race build runs a shorter sequence by default.
const advRaceBuild = true
