package kubetest_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The notifier records a notice as an events.k8s.io/v1 Event regarding the
// ledger ConfigMap once that exists (none before), with the notice's kind
// as the reason; a service account without the grant gets its refusals
// logged at DEBUG only.
func TestEventNotifierRecordsOnTheLedgerConfigMap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ledgerName := kube.LedgerName("evapp")
	events := func() map[string]string {
		list, err := e.admin.EventsV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "regarding.name=" + ledgerName})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, ev := range list.Items {
			out[ev.Reason] = ev.Type
		}
		return out
	}

	n, err := kube.NewEventNotifier(e.c.Config(), e.ns, "evapp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	n.Notify(leaderjob.NoticeLeaderElected, "", "before the ledger exists")
	time.Sleep(500 * time.Millisecond)
	if got := events(); len(got) != 0 {
		t.Fatalf("events before the ledger ConfigMap exists: %v", got)
	}

	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ledgerName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Notify(leaderjob.NoticeJobFailed, "tick", "job tick failed after a successful run: boom")
	n.Notify(leaderjob.NoticeJobPaused, "tick", "job tick paused by ops")
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := events()
		if got["JobFailed"] == corev1.EventTypeWarning && got["JobPaused"] == corev1.EventTypeNormal {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events within 10s: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.Stop()
	n.Notify(leaderjob.NoticeJobResumed, "tick", "after Stop: dropped") // must neither block nor panic

	// A service account that may read the ledger but not record Events:
	// the refusals are logged at DEBUG only.
	if _, err := e.admin.CoreV1().ServiceAccounts(e.ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nogrant"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "ledger-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{ledgerName}, Verbs: []string{"get"}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ledger-only"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ledger-only"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "nogrant", Namespace: e.ns}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa, err := e.c.ServiceAccount(ctx, e.ns, "nogrant")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m, err := kube.NewEventNotifier(sa, e.ns, "evapp", slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "Server rejected event") {
		if time.Now().After(deadline) {
			t.Fatalf("no record of the refused event within 10s:\n%s", logs.String())
		}
		m.Notify(leaderjob.NoticeLeaderElected, "", "refused") // until the binding takes effect
		time.Sleep(200 * time.Millisecond)
	}
	m.Stop()
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "forbidden") {
		t.Errorf("no DEBUG record of the refusal:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" && !strings.Contains(line, "level=DEBUG") {
			t.Errorf("a refusal logged above DEBUG: %s", line)
		}
	}
}
