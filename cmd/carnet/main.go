// Command carnet is Carnet's one binary: the server and its operator tools.
//
//	carnet serve [--demo] [--addr HOST:PORT] [--data DIR] [--postgres DSN] …
//	carnet version
//
// Every flag has an environment variable (CARNET_ADDR, CARNET_DATA, …);
// `carnet serve -h` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	_ "time/tzdata" // notifications are dated in Europe/Paris, whatever the host has
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if code := exitCode(err); code != 0 {
		if code == 1 {
			fmt.Fprintln(os.Stderr, "carnet:", err)
		}
		os.Exit(code)
	}
}

const usage = `carnet — secure health-document sharing (IHE MHD on FHIR R4)

Usage:
  carnet serve [flags]   run the server (embedded SQLite by default)
  carnet token --user U  print a signed token for a demo user (against serve --demo)
  carnet audit verify    check a patient's access history against the signed log (client side)
  carnet fsck            re-verify every record, content and the whole audit log; name the first bad entry
  carnet backup          online, consistent backup with a signed manifest (docs/BACKUP.md)
  carnet restore         restore a verified backup (and a replica) into an empty instance
  carnet keys            export/import the keys as k-of-n shares; rotate the key-encryption key
  carnet doctor          self-check of a deployment: each line green or red, with what to do
  carnet bench pastille  relevance (nDCG@10 vs reverse-chronological) and the card's server time
  carnet bench load      drives a running server over HTTP (file, declare care, search, read): throughput and latency percentiles
  carnet version         print the version

Run "carnet serve -h" for the server's flags and their environment variables.
`

// exitCode is the process's exit status after run: 0 when done or when
// help was asked (-h, --help), 2 for a command line naming no command, 1
// for a failure (printed).
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

// errUsage is a command line that names no command: the usage was printed.
var errUsage = errors.New("usage")

// isHelp says whether args ask for help.
func isHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "fsck":
		return fsck(ctx, args[1:], stdout, stderr)
	case "backup":
		return backupCmd(ctx, args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(ctx, args[1:], stdout, stderr)
	case "keys":
		return keysCmd(ctx, args[1:], stdout, stderr)
	case "doctor":
		return doctorCmd(ctx, args[1:], stdout, stderr)
	case "audit":
		if isHelp(args[1:]) {
			fmt.Fprintln(stdout, "usage: carnet audit verify --url URL --token TOKEN [--patient SYSTEM|INS] [--state FILE]  (carnet audit verify -h: the flags)")
			return nil
		}
		if len(args) < 2 || args[1] != "verify" {
			return fmt.Errorf("usage: carnet audit verify --url URL --token TOKEN [--patient SYSTEM|INS] [--state FILE]")
		}
		return auditVerify(ctx, args[2:], stdout, stderr)
	case "bench":
		const benchUsage = "usage: carnet bench pastille [--scenarios DIR] [--docs N] [--calls N] [--postgres DSN]\n       carnet bench load [--url URL] [--clients N] [--count N] [--duration D] [--mix file=1,search=1,read=1] [--patients N]"
		if isHelp(args[1:]) {
			fmt.Fprintln(stdout, benchUsage+"  (carnet bench pastille -h, carnet bench load -h: the flags)")
			return nil
		}
		switch {
		case len(args) >= 2 && args[1] == "pastille":
			return benchPastille(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "load":
			return benchLoad(ctx, args[2:], stdout, stderr)
		}
		return errors.New(benchUsage)
	case "token":
		return token(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "carnet", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// flagSet is a FlagSet whose flags also read CARNET_* environment variables
// (the flag wins when both are given).
type flagSet struct {
	*flag.FlagSet
	env map[string]string // flag name -> variable
}

func newFlagSet(name string, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}}
	fs.SetOutput(stderr)
	return fs
}

func envName(flagName string) string {
	return "CARNET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (fs *flagSet) String(name, def, help string) *string {
	fs.env[name] = envName(name)
	return fs.FlagSet.String(name, def, help+" (env "+envName(name)+")")
}

func (fs *flagSet) Bool(name string, def bool, help string) *bool {
	fs.env[name] = envName(name)
	return fs.FlagSet.Bool(name, def, help+" (env "+envName(name)+")")
}

// parse applies the environment, then the command line.
func (fs *flagSet) parse(args []string) error {
	for name, v := range fs.env {
		if val, ok := os.LookupEnv(v); ok {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
		}
	}
	return fs.Parse(args)
}

// given says whether a flag was set, on the command line or by its
// environment variable.
func (fs *flagSet) given(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// postgresKeys refuses a PostgreSQL deployment whose keys would be looked
// for in a directory nobody chose: the default ./carnet-data is the
// embedded database's, and its key file is not this database's. With
// --postgres, --data (or --key-file, or CARNET_KEK) says where they live,
// and never beside an embedded database.
func (fs *flagSet) postgresKeys(c serverConfig) error {
	if c.Postgres == "" || os.Getenv("CARNET_KEK") != "" {
		return nil
	}
	if !fs.given("data") && !fs.given("key-file") {
		return fmt.Errorf("with --postgres, say where this database's keys live: --data DIR (its key file and audit-log keys; not %s, the embedded database's default)", c.Data)
	}
	if fileExists(filepath.Join(keyDir(c), "carnet.db")) {
		return fmt.Errorf("%s holds an embedded SQLite database (carnet.db): its keys are not this PostgreSQL database's; give PostgreSQL a directory of its own with --data", keyDir(c))
	}
	return nil
}
