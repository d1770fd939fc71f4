package kubetest_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

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

	var dropped testutil.LogBuffer
	n, err := kube.NewEventNotifier(e.c.Config(), e.ns, "evapp", slog.New(slog.NewTextHandler(&dropped, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	n.Notify(leaderjob.NoticeLeaderElected, "", "before the ledger exists")
	// The notifier logs the notice it drops: after that, no Event of it
	// can come.
	testutil.Eventually(t, 10*time.Second, "the notice dropped", func() bool {
		return strings.Contains(dropped.String(), "event not recorded: the ConfigMap "+e.ns+"/"+ledgerName+" does not exist yet")
	})
	if got := events(); len(got) != 0 {
		t.Fatalf("events before the ledger ConfigMap exists: %v", got)
	}

	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ledgerName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Notify(leaderjob.NoticeJobFailed, "tick", "job tick failed after a successful run: boom")
	n.Notify(leaderjob.NoticeJobPaused, "tick", "job tick paused by ops")
	testutil.EventuallyNoError(t, 10*time.Second, "a JobFailed and a JobPaused event", func() error {
		if got := events(); got["JobFailed"] != corev1.EventTypeWarning || got["JobPaused"] != corev1.EventTypeNormal {
			return fmt.Errorf("events: %v", got)
		}
		return nil
	})
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
	logs := &testutil.LogBuffer{}
	m, err := kube.NewEventNotifier(sa, e.ns, "evapp", slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyNoError(t, 10*time.Second, "a record of the refused event", func() error {
		if strings.Contains(logs.String(), "Server rejected event") {
			return nil
		}
		m.Notify(leaderjob.NoticeLeaderElected, "", "refused") // until the binding takes effect
		return fmt.Errorf("log:\n%s", logs.String())
	})
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
