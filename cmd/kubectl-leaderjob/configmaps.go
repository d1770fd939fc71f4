package main

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/leaderjob/leaderjob/wire"
)

// The documents the plugin reads and writes are package wire's, in the
// ConfigMaps wire names: the ledger (read) and the control requests (read
// and written).

// decodeLedger reads the ledger out of its ConfigMap (none yet when the
// key is absent). A ledger of a newer format than this plugin knows is
// refused, as the app refuses it, rather than misread.
func decodeLedger(cm *corev1.ConfigMap, s *wire.Ledger) error {
	data := cm.Data[wire.LedgerDataKey]
	if data == "" {
		return nil
	}
	l, err := wire.DecodeLedger([]byte(data))
	if errors.Is(err, wire.ErrNewerFormat) {
		return fmt.Errorf("configmap %s/%s: %w; upgrade kubectl-leaderjob to the release of the app that wrote it (go install github.com/leaderjob/leaderjob/cmd/kubectl-leaderjob@latest)",
			cm.Namespace, cm.Name, err)
	}
	if err != nil {
		return fmt.Errorf("configmap %s/%s: the ledger cannot be read: %w", cm.Namespace, cm.Name, err)
	}
	*s = l
	return nil
}

// decodeControl reads the requests out of a control ConfigMap.
func decodeControl(cm *corev1.ConfigMap) (wire.Control, error) {
	c, err := wire.DecodeControl([]byte(cm.Data[wire.ControlDataKey]))
	if err != nil {
		return wire.Control{}, fmt.Errorf("control configmap %s/%s, key %s: %w", cm.Namespace, cm.Name, wire.ControlDataKey, err)
	}
	return c, nil
}

// encodeControl writes c into cm, labelled as app's.
func encodeControl(cm *corev1.ConfigMap, app string, c wire.Control) error {
	b, err := wire.EncodeControl(c)
	if err != nil {
		return err
	}
	cm.Labels = wire.Labels(cm.Labels, app)
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[wire.ControlDataKey] = string(b)
	return nil
}
