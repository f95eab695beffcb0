//go:build !race

package httpapi_test

const advRaceBuild = false
