package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

// TestMain lets this test binary play `carnet` itself in a child process,
// so that the crash test can kill a real server with SIGKILL.
//
// With CARNET_TEST_AS_CARNET set, it is the `carnet` command itself, its
// arguments those of the command line (TestDocExamples puts it on the
// PATH of the shell that runs the documented examples).
func TestMain(m *testing.M) {
	if os.Getenv("CARNET_TEST_AS_CARNET") != "" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(exitCode(err))
		}
		os.Exit(0)
	}
	if args := os.Getenv("CARNET_TEST_CHILD_ARGS"); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// As main does: SIGTERM and SIGINT end the context (graceful shutdown).
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, argv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	argv, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CARNET_TEST_CHILD_ARGS="+string(argv))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlRE := regexp.MustCompile(`listens on (https?://[0-9.:]+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return &child{cmd: cmd, url: u}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("child did not start: %s", stderr.String())
	}
	return nil
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// An acknowledged ITI-65 submission survives kill -9, and no submission is
// ever half visible (RELIABILITY.md #8): clients file two-document
// submissions concurrently, the server is killed at a random moment, then
// restarted on the same data and checked, several times over.
func TestKill9KeepsAcknowledgedSubmissions(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	data := t.TempDir()
	o := synth.Options{Seed: 77, Patients: 40, DocsPerPatient: 40}
	ds := synth.Generate(o)
	type sub struct {
		ins     carnet.Identifier
		uids    [2]string
		authors [2]carnet.Author // each document's author reads it back, whatever its labels
		body    []byte
		token   string // software of the authors' organisations files it
	}
	var subs []sub
	for i := 0; i+1 < len(ds.Documents); i += 2 {
		a, b := ds.Documents[i], ds.Documents[i+1]
		if a.Patient != b.Patient {
			continue
		}
		ins := ds.Patients[a.Patient].INS
		s := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: a.UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: a.Meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: a.UniqueID, Meta: a.Meta, Content: a.Content}, {UniqueID: b.UniqueID, Meta: b.Meta, Content: b.Content}}}
		body, _ := json.Marshal(mhd.ProvideBundle(s))
		subs = append(subs, sub{ins, [2]string{a.UniqueID, b.UniqueID}, [2]carnet.Author{a.Meta.Authors[0], b.Meta.Authors[0]}, body, ""})
	}
	r := rand.New(rand.NewPCG(7, 7))
	acked := map[int]bool{}
	next := 0
	const rounds = 6
	idp := newIdP(t)
	args := append([]string{"--data", data, "--allow-test-ins"}, idp.args(t)...)
	for i := range subs {
		subs[i].token = idp.softwareToken(t, subs[i].authors[:]...)
	}
	for round := 0; round < rounds && next < len(subs); round++ {
		c := startChild(t, args...)
		ackedBefore := len(acked)
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				httpc := &http.Client{Timeout: 10 * time.Second}
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					if next >= len(subs) {
						mu.Unlock()
						return
					}
					i := next
					next++
					mu.Unlock()
					req, _ := http.NewRequest("POST", c.url+"/", bytes.NewReader(subs[i].body))
					req.Header.Set("Content-Type", "application/fhir+json")
					req.Header.Set("Authorization", "Bearer "+subs[i].token)
					res, err := httpc.Do(req)
					if err != nil {
						return // the server is gone
					}
					res.Body.Close()
					if res.StatusCode == 200 {
						mu.Lock()
						acked[i] = true
						mu.Unlock()
					}
				}
			}()
		}
		// Kill at a random moment once the server is filing (under -race a
		// filing takes about a second, longer than the window itself).
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n > ackedBefore {
				break
			}
		}
		time.Sleep(time.Duration(100+r.IntN(400)) * time.Millisecond)
		c.kill()
		close(stop)
		wg.Wait()
	}
	if len(acked) == 0 {
		t.Fatal("no submission was acknowledged before the kills: the test proves nothing")
	}

	c := startChild(t, args...)
	defer c.kill()
	count := func(ins carnet.Identifier, uid string, author carnet.Author) int {
		q := url.Values{"patient.identifier": {ins.System + "|" + ins.Value}, "identifier": {uid}}
		req, _ := http.NewRequest("GET", c.url+"/DocumentReference?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+idp.proToken(t, author))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b struct{ Total int }
		if err := json.NewDecoder(res.Body).Decode(&b); err != nil || res.StatusCode != 200 {
			t.Fatalf("search after restart: %d %v", res.StatusCode, err)
		}
		return b.Total
	}
	lost, half := 0, 0
	for i := 0; i < next; i++ {
		n := count(subs[i].ins, subs[i].uids[0], subs[i].authors[0]) + count(subs[i].ins, subs[i].uids[1], subs[i].authors[1])
		if acked[i] && n != 2 {
			lost++
		}
		if n == 1 {
			half++
		}
	}
	t.Logf("%d rounds, %d submissions sent, %d acknowledged", rounds, next, len(acked))
	if lost > 0 || half > 0 {
		t.Errorf("after kill -9: %d acknowledged submissions missing, %d half-visible", lost, half)
	}
}
