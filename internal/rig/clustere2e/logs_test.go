package clustere2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// record is one JSON log record of a container, with the pod and
// container it came from.
type record struct {
	Pod, Container string
	Time           time.Time     `json:"time"`
	Level          string        `json:"level"`
	Msg            string        `json:"msg"`
	Job            string        `json:"job"`
	Outcome        string        `json:"outcome"`
	Reason         string        `json:"reason"`
	ScheduledAt    time.Time     `json:"scheduled_at"`
	CheckTook      time.Duration `json:"check_duration"`
	CatchUp        bool          `json:"catch_up"`
	Key            string        `json:"key"`
	Error          string        `json:"error"`
	Raw            string        `json:"-"`
}

// ran reports whether r is a run of job that called it.
func (r record) ran(job string) bool { return r.Msg == "job run" && r.Job == job && r.Outcome == "ran" }

// logs follows, through the apiserver (as kubectl logs -f does), every
// container of every pod that exists in a namespace while it runs, from
// the container's start to its end, so that the records of a pod deleted
// by a rollout are kept.
type logs struct {
	t      *testing.T
	ns     string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	records []record
	started map[string]bool // pod/container followed
}

func followLogs(t *testing.T, ns string) *logs {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &logs{t: t, ns: ns, cancel: cancel, started: map[string]bool{}}
	w, err := client(t).CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			for _, st := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
				if (st.State.Running == nil && st.State.Terminated == nil) || st.RestartCount > 0 {
					// A restarted container's earlier lines are not
					// followed; no container of these tests restarts, and
					// one that does fails the test.
					if st.RestartCount > 0 {
						l.t.Errorf("container %s/%s restarted %d times", pod.Name, st.Name, st.RestartCount)
					}
					continue
				}
				key := pod.Name + "/" + st.Name
				l.mu.Lock()
				seen := l.started[key]
				l.started[key] = true
				l.mu.Unlock()
				if !seen {
					l.wg.Add(1)
					go l.follow(ctx, pod.Name, st.Name)
				}
			}
		}
	}()
	t.Cleanup(func() {
		l.stop()
		// Every pod's records, for the post-mortem of a failure, beside
		// the cluster components' logs.
		path := filepath.Join(testCluster.Dir(), "logs", ns+"-pods.log")
		var b strings.Builder
		for _, r := range l.snapshot() {
			fmt.Fprintf(&b, "%s/%s %s\n", r.Pod, r.Container, r.Raw)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err == nil && t.Failed() {
			t.Logf("the pods' logs are in %s", path)
		}
	})
	return l
}

func (l *logs) follow(ctx context.Context, pod, container string) {
	defer l.wg.Done()
	cs := client(l.t)
	req := cs.CoreV1().Pods(l.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true})
	stream, err := req.Stream(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.t.Logf("logs of %s/%s: %v", pod, container, err)
		}
		return
	}
	defer stream.Close()
	s := bufio.NewScanner(stream)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		r := record{Pod: pod, Container: container, Raw: s.Text()}
		if json.Unmarshal(s.Bytes(), &r) != nil {
			continue
		}
		l.mu.Lock()
		l.records = append(l.records, r)
		l.mu.Unlock()
	}
	if err := s.Err(); err != nil && ctx.Err() == nil {
		// A broken stream would hide runs: a fire counted lost, or a
		// double not seen.
		l.t.Errorf("logs of %s/%s broke off: %v", pod, container, err)
	}
}

func (l *logs) stop() {
	l.cancel()
	l.wg.Wait()
}

// snapshot returns the records so far.
func (l *logs) snapshot() []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]record(nil), l.records...)
}

// find returns the records that match.
func (l *logs) find(match func(record) bool) []record {
	var out []record
	for _, r := range l.snapshot() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}
