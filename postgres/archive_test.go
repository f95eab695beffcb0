package postgres_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/carnet-sante/carnet/internal/testenv"
)

// PostgreSQL continuous archiving, as docs/OPERATIONS.md configures it, on
// a throwaway cluster of its own (the shared server is never
// reconfigured): base backup, writes, a crash, recovery from the base
// backup and the WAL archive with every committed row back.
func TestWALArchivingDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("the WAL archiving drill starts two PostgreSQL clusters")
	}
	if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(matches) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL's server binaries (initdb, pg_ctl) are needed for the WAL archiving drill")
		}
		t.Skip("skipped: no PostgreSQL server binaries (initdb) on this machine")
	}
	script := filepath.Join(testenv.ModuleRoot(t), "scripts", "pg-wal-archive-drill.sh")
	out, err := exec.Command("bash", script).CombinedOutput()
	if err != nil {
		t.Fatalf("WAL archiving drill: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`rows written: (\d+), rows recovered from base backup \+ WAL archive: (\d+), recovery: (\d+) ms`).FindSubmatch(out)
	if m == nil || string(m[1]) != string(m[2]) {
		t.Fatalf("drill output: %s", out)
	}
	t.Logf("%s", out)
}
