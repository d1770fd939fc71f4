package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/leaderjob/leaderjob/wire"
)

// A ledger written by a newer release is refused, as the app refuses it,
// with an error that tells the operator to upgrade the plugin: it is not
// misread, whether or not its shape still decodes.
func TestNewerLedgerFormatIsRefused(t *testing.T) {
	newer := wire.LedgerFormat + 1
	for name, data := range map[string]string{
		"same shape": fmt.Sprintf(`{"version":%d,"fence":{"scope":"u","n":2},"job_names":["report"],"jobs":{"report":{"claimed":{"job":"report","at":"2026-11-30T09:00:00Z","holder":"pod-a"}}}}`, newer),
		"new shape":  fmt.Sprintf(`{"version":%d,"jobs":"a new shape"}`, newer),
	} {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: wire.LedgerConfigMap("shop"), Namespace: "ns", Labels: wire.Labels(nil, "shop")},
			Data:       map[string]string{wire.LedgerDataKey: data},
		}
		var l wire.Ledger
		if err := decodeLedger(cm, &l); !errors.Is(err, wire.ErrNewerFormat) {
			t.Errorf("%s: decodeLedger = %v, want an error wrapping wire.ErrNewerFormat", name, err)
		}
		for _, args := range [][]string{{"status"}, {"status", "shop"}, {"history", "shop"}, {"run", "shop", "report"}} {
			var out, errOut bytes.Buffer
			p := &plugin{out: &out, errOut: &errOut, cs: fake.NewClientset(cm.DeepCopy()), ns: "ns", timeout: 0, now: func() time.Time { return now }}
			code := p.exec(context.Background(), args[0], args[1:])
			msg := errOut.String()
			if code != exitFailed || out.Len() != 0 {
				t.Errorf("%s: %v: exit %d, output %q; want exit %d and no output", name, args, code, out.String(), exitFailed)
			}
			for _, want := range []string{"shop-leaderjob-ledger", "written by a newer release", fmt.Sprintf("format %d", newer), "upgrade kubectl-leaderjob"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: %v: the error lacks %q: %s", name, args, want, msg)
				}
			}
		}
	}
}
