package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/ledger"
)

var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// fixture is a namespace with app "shop": its ledger (job "report" ran on
// pod-a, "sweep" never claimed) and its Lease held by pod-a.
func fixture(t *testing.T) (*plugin, *fake.Clientset, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	at := now.Add(-time.Minute)
	s := ledger.State{Version: 1, Fence: ledger.Epoch{Scope: "u", N: 2}, JobNames: []string{"report", "sweep"},
		Jobs: map[string]*ledger.JobState{"report": {
			Claimed:   &ledger.Claim{Job: "report", At: at, Holder: "pod-a", Epoch: ledger.Epoch{Scope: "u", N: 2}},
			Completed: &ledger.Completion{Job: "report", At: at, Holder: "pod-a", Outcome: "failed", Duration: 2 * time.Second, Error: "smtp: refused", Ended: at.Add(2 * time.Second)},
			History:   []ledger.Completion{{Job: "report", At: at, Holder: "pod-a", Outcome: "failed", Error: "smtp: refused", Ended: at.Add(2 * time.Second)}},
		}}}
	data, _ := json.Marshal(s)
	holder, transitions := "pod-a", int32(2)
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: kube.LedgerName("shop"), Namespace: "ns",
			Labels: map[string]string{kube.LabelManagedBy: "leaderjob", kube.LabelApp: "shop"}},
			Data: map[string]string{kube.LedgerDataKey: string(data)}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseTransitions: &transitions}},
	)
	var out, errOut bytes.Buffer
	p := &plugin{out: &out, errOut: &errOut, cs: cs, ns: "ns", timeout: 300 * time.Millisecond, now: func() time.Time { return now }}
	return p, cs, &out, &errOut
}

func TestStatusTableAndJSON(t *testing.T) {
	p, _, out, errOut := fixture(t)
	if code := p.exec(context.Background(), "status", nil); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"APP shop", "LEADER pod-a", "EPOCH 2", "report", "failed", "2s", "smtp: refused", "sweep"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	out.Reset()
	p.output = "json"
	if code := p.exec(context.Background(), "status", []string{"shop"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Kind string      `json:"kind"`
		Apps []AppStatus `json:"apps"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err, out)
	}
	if doc.Kind != "Status" || len(doc.Apps) != 1 || doc.Apps[0].Leader != "pod-a" || doc.Apps[0].Jobs[0].LastCompleted.Outcome != "failed" {
		t.Fatalf("status -o json: %s", out)
	}
}

func TestUnknownAppAndJobListTheKnownOnes(t *testing.T) {
	p, _, _, errOut := fixture(t)
	if code := p.exec(context.Background(), "status", []string{"shopp"}); code != exitFailed || !strings.Contains(errOut.String(), "known apps: shop") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	errOut.Reset()
	if code := p.exec(context.Background(), "pause", []string{"shop", "reprot"}); code != exitFailed || !strings.Contains(errOut.String(), "known jobs: report, sweep") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// pause writes the control ConfigMap (creating it) with who and why, and
// warns when no leader acknowledges it.
func TestPauseWritesTheControlObject(t *testing.T) {
	p, cs, _, errOut := fixture(t)
	p.reason = "vendor outage"
	cs.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return false, nil, nil
	})
	if code := p.exec(context.Background(), "pause", []string{"shop", "report"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "not acknowledged") {
		t.Errorf("no warning without a leader: %s", errOut)
	}
	cm, err := cs.CoreV1().ConfigMaps("ns").Get(context.Background(), kube.ControlName("shop"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.DecodeControl(cm)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := c.Paused["report"]; !ok || r.Reason != "vendor outage" || !r.Since.Equal(now) || cm.Labels[kube.LabelApp] != "shop" {
		t.Fatalf("control: %+v, labels %v", c, cm.Labels)
	}
	if code := p.exec(context.Background(), "resume", []string{"shop", "report"}); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	cm, _ = cs.CoreV1().ConfigMaps("ns").Get(context.Background(), kube.ControlName("shop"), metav1.GetOptions{})
	if c, _ := kube.DecodeControl(cm); len(c.Paused) != 0 {
		t.Fatalf("resume left %+v", c.Paused)
	}
}

// A refused write names the RBAC rule to grant.
func TestForbiddenNamesTheRule(t *testing.T) {
	p, cs, _, errOut := fixture(t)
	cs.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), "", nil)
	})
	if code := p.exec(context.Background(), "run", []string{"shop", "report"}); code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"verbs [create] on configmaps", "namespace ns", "operator/rbac.yaml"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("lacks %q: %s", want, errOut)
		}
	}
}

// run without an answer from a leader times out with a warning and exit 3.
func TestRunTimesOutWithAWarning(t *testing.T) {
	p, _, _, errOut := fixture(t)
	p.requestID = "r1"
	if code := p.exec(context.Background(), "run", []string{"shop", "report"}); code != exitTimeout || !strings.Contains(errOut.String(), "not taken by a leader") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
