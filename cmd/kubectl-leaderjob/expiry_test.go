package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/wire"
)

// A new run request removes from the control ConfigMap the requests the
// leader will never run (expired, or without a time) along with the done
// ones; a request id still listed but expired is refused with what to do.
func TestRunForgetsExpiredRequests(t *testing.T) {
	p, cs, _, errOut := fixture(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: kube.ControlName("shop"), Namespace: "ns"}}
	old := wire.Control{Runs: map[string]wire.RunRequest{
		"expired": {Job: "report", At: now.Add(-wire.RunRequestExpiry - time.Minute)},
		"undated": {Job: "report"},
		"pending": {Job: "report", At: now.Add(-time.Hour)},
	}}
	if err := kube.EncodeControl(cm, "shop", old); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("ns").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.requestID = "expired"
	if code := p.exec(context.Background(), "run", []string{"shop", "report"}); code != exitFailed ||
		!strings.Contains(errOut.String(), "request id expired: run request expired") || !strings.Contains(errOut.String(), "choose a new id") {
		t.Fatalf("exit %d: %s; want the expired id refused", code, errOut)
	}
	p.requestID = "new"
	if code := p.exec(context.Background(), "run", []string{"shop", "report"}); code != exitTimeout {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got, _ := cs.CoreV1().ConfigMaps("ns").Get(context.Background(), kube.ControlName("shop"), metav1.GetOptions{})
	c, err := kube.DecodeControl(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runs) != 2 || c.Runs["pending"].Job != "report" || !c.Runs["new"].At.Equal(now) {
		t.Fatalf("requests listed: %+v, want pending and new", c.Runs)
	}
}
