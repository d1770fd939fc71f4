package arena

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/bench/internal/runs"
)

// Env is what a contender's replicas are started with.
type Env struct {
	ContenderBin string // bench/cmd/contender
	ElectorBin   string // cmd/leaderjob-elector
	LibraryDir   string // the library's module root
	API          *rest.Config
	Namespace    string // of this contender's Lease and ledger
	RedisAddr    string // this contender's Redis server
	Timings      Timings
	Work         time.Duration
	Dir          string // this contender's folder: logs and kubeconfigs

	fleet *Fleet
}

// proc makes a process of replica; its output goes to the fleet.
func (e *Env) proc(replica, container string, spawn func() *exec.Cmd) *proc {
	f := e.fleet
	return &proc{
		label: replica + "/" + container,
		spawn: spawn,
		line:  func(b []byte) { f.line(replica, b) },
		out:   f.logFile(replica + "-" + container + ".log"),
	}
}

// Fleet is a contender's replicas, past and present, and the runs they
// logged.
type Fleet struct {
	c   *Contender
	env Env

	mu       sync.Mutex
	replicas []*Replica
	seq      int
	runs     []runs.Run
	started  map[string]time.Time // each replica's latest "job started" line
	began    map[runKey]time.Time // each run's "job started" line, until its record comes
	warning  string               // the latest WARN or ERROR record of any replica
	files    []*os.File
}

func newFleet(c *Contender, env Env) *Fleet {
	f := &Fleet{c: c, started: map[string]time.Time{}, began: map[runKey]time.Time{}}
	env.fleet = f
	f.env = env
	return f
}

// line reads one line of a replica's output.
func (f *Fleet) line(replica string, b []byte) {
	rec, ok := runs.Parse(b)
	if !ok {
		return
	}
	if rec.Level == "WARN" || rec.Level == "ERROR" {
		w := replica + ": " + rec.Msg
		if rec.Error != "" {
			w += ": " + rec.Error
		}
		f.mu.Lock()
		f.warning = w
		f.mu.Unlock()
	}
	if rec.Msg == runs.StartedMsg {
		f.mu.Lock()
		f.started[replica] = rec.Time
		f.began[runKey{replica, rec.ScheduledAt.UnixNano()}] = rec.Time
		f.mu.Unlock()
		return
	}
	if r, ok := runs.RunOf(replica, rec); ok {
		f.mu.Lock()
		k := runKey{replica, r.Slot.UnixNano()}
		if t, ok := f.began[k]; ok && !t.After(r.End) {
			// The run's own start: the record comes after the run ends,
			// and after its completion is written where there is a
			// ledger, so the record's time less the run's duration is
			// later than the start by that write.
			r.Start = t
		}
		delete(f.began, k)
		f.runs = append(f.runs, r)
		f.mu.Unlock()
	}
}

// runKey names one run: its replica and its fire.
type runKey struct {
	replica string
	slot    int64 // the fire's scheduled time, Unix nanoseconds
}

func (f *Fleet) logFile(name string) io.Writer {
	file, err := os.Create(filepath.Join(f.env.Dir, name))
	if err != nil {
		return nil
	}
	f.mu.Lock()
	f.files = append(f.files, file)
	f.mu.Unlock()
	return file
}

// add starts a new replica of release, named r1, r2, ... in start order.
func (f *Fleet) add(release string) (*Replica, error) {
	f.mu.Lock()
	f.seq++
	name := fmt.Sprintf("r%d", f.seq)
	f.mu.Unlock()
	r, err := f.c.replica(&f.env, name, release)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", name, err)
	}
	r.Release = release
	f.mu.Lock()
	f.replicas = append(f.replicas, r)
	f.mu.Unlock()
	return r, r.start()
}

// alive returns the replicas that have not been stopped, oldest first.
func (f *Fleet) alive() []*Replica {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*Replica
	for _, r := range f.replicas {
		if r.alive() {
			out = append(out, r)
		}
	}
	return out
}

func (f *Fleet) all() []*Replica {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.replicas)
}

// Runs returns the runs logged so far.
func (f *Fleet) Runs() []runs.Run {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.runs)
}

// leader is the replica a fault aimed at "the leader" hits: the live
// replica that started a run last (its "job started" line; the run record
// comes only when the run ends). Faults come while a fire's run is going,
// so this is the replica in that run; with a lock per run (Redis), the one
// that won this fire.
func (f *Fleet) leader() (*Replica, error) {
	live := f.alive()
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *Replica
	var latest time.Time
	for _, r := range live {
		if t, ok := f.started[r.Name]; ok && t.After(latest) {
			best, latest = r, t
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no live replica has run the job")
	}
	return best, nil
}

// running waits until some replica has started a run in the last two
// periods.
func (f *Fleet) running(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, r := range f.Runs() {
			if time.Since(r.Start) < 2*time.Second {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.warning != "" {
		return fmt.Errorf("no replica ran the job within %v; the last warning: %s", within, f.warning)
	}
	return fmt.Errorf("no replica ran the job within %v", within)
}

// counts returns each replica's request count so far.
func (f *Fleet) counts() map[string]int64 {
	out := map[string]int64{}
	for _, r := range f.all() {
		if r.proxy != nil {
			out[r.Name] = r.proxy.Requests()
		}
	}
	return out
}

// stop ends every live replica, gracefully and in parallel, then closes
// the proxies and log files.
func (f *Fleet) stop(grace time.Duration) {
	var wg sync.WaitGroup
	for _, r := range f.alive() {
		wg.Go(func() { r.Terminate(grace) })
	}
	wg.Wait()
	for _, r := range f.all() {
		for _, p := range r.procs {
			p.end(syscall.SIGKILL, 0) // any still restarting: end for good
		}
		if r.proxy != nil {
			_ = r.proxy.Close()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, file := range f.files {
		_ = file.Close()
	}
}
