package wire

// Where the documents are kept in Kubernetes: in ConfigMaps of the app's
// namespace, named after the app, each document under one data key.
const (
	// LedgerSuffix ends the ledger ConfigMap's name: <app>-leaderjob-ledger.
	LedgerSuffix = "-leaderjob-ledger"
	// LedgerDataKey is the data key that holds the Ledger (EncodeLedger).
	LedgerDataKey = "ledger.json"
	// ControlSuffix ends the control ConfigMap's name:
	// <app>-leaderjob-control.
	ControlSuffix = "-leaderjob-control"
	// ControlDataKey is the data key that holds the Control
	// (EncodeControl).
	ControlDataKey = "control.json"

	// LabelManagedBy (valued ManagedBy) and LabelApp (valued the app's
	// name) label both ConfigMaps, so that tools can list the apps of a
	// namespace that keep a ledger:
	//	kubectl get configmaps -l app.kubernetes.io/managed-by=leaderjob
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelApp       = "leaderjob.dev/app"
	ManagedBy      = "leaderjob"
)

// LedgerConfigMap returns the name of app's ledger ConfigMap.
func LedgerConfigMap(app string) string { return app + LedgerSuffix }

// ControlConfigMap returns the name of app's control ConfigMap.
func ControlConfigMap(app string) string { return app + ControlSuffix }

// Labels sets the labels of app's ConfigMaps in labels, a ConfigMap's
// labels (a nil map is made), and returns it.
func Labels(labels map[string]string, app string) map[string]string {
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedBy
	labels[LabelApp] = app
	return labels
}
