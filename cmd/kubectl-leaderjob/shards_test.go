package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/leaderjob/leaderjob/wire"
)

// A ledger spread over several ConfigMaps (LEADERJOB_LEDGER_SHARDS) is
// shown whole: the jobs of every object, as the app reads them.
func TestStatusReadsEveryShard(t *testing.T) {
	const n = 4
	at := now.Add(-time.Minute)
	l := wire.Ledger{Version: wire.LedgerFormat, JobNames: []string{}, Jobs: map[string]*wire.JobState{}}
	for _, job := range []string{"report", "sweep", "invoices", "reindex", "backup", "digest"} {
		l.JobNames = append(l.JobNames, job)
		l.Jobs[job] = &wire.JobState{
			Claimed:   &wire.Claim{Job: job, At: at, Holder: "pod-a"},
			Completed: &wire.Completion{Job: job, At: at, Holder: "pod-a", Outcome: "ran", Ended: at},
		}
	}
	var objs []*corev1.ConfigMap
	shardsUsed := map[int]bool{}
	for i, part := range wire.SplitLedger(l, n) {
		data, err := wire.EncodeLedger(part)
		if err != nil {
			t.Fatal(err)
		}
		shardsUsed[i] = len(part.Jobs) > 0
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: wire.LedgerShardConfigMap("shop", i), Namespace: "ns",
			Labels: wire.Labels(nil, "shop")}, Data: map[string]string{wire.LedgerDataKey: string(data)}})
	}
	if len(shardsUsed) < 2 {
		t.Fatal("every job in one shard: the test shows nothing")
	}
	cs := fake.NewClientset()
	for _, cm := range objs {
		if _, err := cs.CoreV1().ConfigMaps("ns").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	p := &plugin{out: &out, errOut: &errOut, cs: cs, ns: "ns", timeout: 300 * time.Millisecond, now: func() time.Time { return now }}
	for _, args := range [][]string{nil, {"shop"}} {
		out.Reset()
		if code := p.exec(context.Background(), "status", args); code != 0 {
			t.Fatalf("status %v: exit %d: %s", args, code, &errOut)
		}
		if strings.Count(out.String(), "APP shop") != 1 {
			t.Errorf("status %v lists the app %d times (a shard taken for an app?):\n%s", args, strings.Count(out.String(), "APP shop"), &out)
		}
		for job := range l.Jobs {
			if !strings.Contains(out.String(), job) || strings.Count(out.String(), "ran") < len(l.Jobs) {
				t.Errorf("status %v lacks %s's run:\n%s", args, job, &out)
			}
		}
	}
}
