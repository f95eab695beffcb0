package main

import "testing"

func TestExploreWeb(t *testing.T) {
	b := newBrowser(t)
	s := startServe(t, "--demo", "--data", t.TempDir())
	p := b.person(t, s.URL)
	p.open("/")
	p.screenshot("/tmp/shot-home.png")
	p.login("patient0")
	p.screenshot("/tmp/shot-patient.png")
	t.Log(p.snippet())
}
