package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/testenv"
)

// The browser tests drive a real headless Chromium (Debian's chromium)
// against `carnet serve` running in this process. Where Chromium is absent
// they skip with a message, except under CI=true where they fail; .ci/run
// installs it.

const chromiumPath = "/usr/bin/chromium"

func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CARNET_CHROMIUM")
	if p == "" {
		p = chromiumPath
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is missing (%s): CI must run the browser tests (.ci/run installs the Debian package chromium)", p)
		}
		t.Skipf("skipped: Chromium is absent (%s); install the Debian package chromium to run the browser tests", p)
	}
	return p
}

// axeSource is axe-core, pinned in package.json (npm ci).
func axeSource(t *testing.T) string {
	t.Helper()
	p := filepath.Join(testenv.ModuleRoot(t), "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core is missing (%s): run npm ci (CI does, from package-lock.json)", p)
		}
		t.Skipf("skipped: axe-core is absent (%s); run npm ci", p)
	}
	return string(b)
}

// browser is one Chromium for a test; people get isolated browser contexts
// (their own cookies and storage) in it.
type browser struct {
	t    *testing.T
	root context.Context
	axe  string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	axe := axeSource(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "fr-FR"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	if err := chromedp.Do(root); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}
	return &browser{t: t, root: root, axe: axe}
}

// tab is one person's tab, in a browser context of their own.
type tab struct {
	t       *testing.T
	b       *browser
	ctx     context.Context
	base    string
	mu      sync.Mutex
	a11y    bool // tab.axe runs axe-core; off, it does nothing
	dialogs []string
	tamper  *sync.Once // set once proof tampering listens
}

func (b *browser) person(t *testing.T, base string, a11y bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, b: b, ctx: ctx, base: base, a11y: a11y}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	// A dialog is a script that ran: note it, and dismiss it.
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, e.Message)
			tb.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v\npage: %s", what, err, tb.snippet())
	}
}

func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %.80q: %v", js, err)
	}
	return v
}

// snippet is the page's text, for failure messages.
func (tb *tab) snippet() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// text is the page's visible text.
func (tb *tab) text() string {
	tb.t.Helper()
	return eval[string](tb, `document.body.innerText`)
}

func (tb *tab) path() string {
	tb.t.Helper()
	return eval[string](tb, `location.pathname`)
}

// open loads a page of the site and waits for it.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// click clicks the element and waits for the next page to be loaded.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	eval[bool](tb, `window.__carnetOld = true`)
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	tb.waitLoaded("after clicking " + sel)
}

// waitLoaded waits until a new page replaced the one marked old, and is
// loaded; errors while the page changes are expected.
func (tb *tab) waitLoaded(what string) {
	tb.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__carnetOld && document.readyState === "complete"`))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("%s: no new page\n%s", what, tb.snippet())
}

// fill sets a form field.
func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.value = %q; return true; })()`, sel, value)
	if !eval[bool](tb, js) {
		tb.t.Fatalf("no field %s\npage: %s", sel, tb.snippet())
	}
}

// login signs in through the demo issuer's page as a demo user.
func (tb *tab) login(user string) {
	tb.t.Helper()
	tb.open("/connexion")
	if !strings.Contains(tb.text(), "Démonstration") {
		tb.t.Fatalf("the demo issuer's page does not say it is a demo:\n%s", tb.snippet())
	}
	tb.click(fmt.Sprintf(`button[name="user"][value=%q]`, user))
}

// cookie returns the session cookie's value.
func (tb *tab) cookie() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.base}})
	if err != nil {
		tb.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "carnet_session" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
				tb.t.Errorf("session cookie: HttpOnly %v, SameSite %v; want HttpOnly, Lax", c.HTTPOnly, c.SameSite)
			}
			return c.Value
		}
	}
	tb.t.Fatalf("no session cookie")
	return ""
}

// axe runs axe-core in the page: WCAG 2.1 A and AA rules; serious and
// critical violations fail the test.
func (tb *tab) axe(name string) {
	tb.t.Helper()
	if !tb.a11y {
		return
	}
	eval[bool](tb, `(() => { if (!window.axe) { (0, eval)(`+jsString(tb.b.axe)+`); } return true; })()`)
	raw := eval[string](tb, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))`)
	var vs []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		tb.t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Errorf("axe-core, %s: %s violation %s (%s) at %v", name, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (tb *tab) screenshot(file string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}
