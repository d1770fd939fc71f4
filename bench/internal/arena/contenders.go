package arena

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/leaderjob/leaderjob/bench/internal/proxy"
)

// Backend names the server a contender's replicas depend on.
const (
	APIServer = "apiserver"
	Redis     = "redis"
)

// Contender is one way of running the workload on several replicas.
type Contender struct {
	ID      string // short name, for flags and files
	Label   string // its name in the table
	How     string // how it is set up, for the table's notes
	Backend string // APIServer or Redis

	// available reports, before the run, whether this build can run it
	// (nil: always), and why not.
	available func(e *Env) (bool, string)
	replica   func(e *Env, name, release string) (*Replica, error)
}

// Contenders are the contenders of the comparison, in the table's order.
func Contenders() []*Contender {
	return []*Contender{
		{
			ID: "leaderjob", Label: "leaderjob (lease)", Backend: APIServer,
			How:     "leaderjob.New with kube.Guards(), LEADERJOB_GUARD=lease; no catch-up (Spring's behaviour: a missed fire is not run later)",
			replica: leaderjobReplica(nil),
		},
		{
			ID: "leaderjob-catchup", Label: "leaderjob (lease, catch-up)", Backend: APIServer,
			How:     "as above with LEADERJOB_CATCH_UP=all:1m: each fire is claimed in the ConfigMap ledger, and a new leader runs the fires of the last minute nobody claimed",
			replica: leaderjobReplica([]string{"LEADERJOB_CATCH_UP=all:1m"}),
		},
		{
			ID: "leaderjob-spread", Label: "leaderjob (lease, spread, catch-up)", Backend: APIServer,
			How:       "as above with LEADERJOB_SPREAD=on: jobs spread over the replicas",
			available: spreadAvailable,
			replica:   leaderjobReplica([]string{"LEADERJOB_CATCH_UP=all:1m", "LEADERJOB_SPREAD=on"}),
		},
		{
			ID: "gocron-elector", Label: "gocron + Elector (client-go leaderelection)", Backend: APIServer,
			How:     "gocron v2 WithDistributedElector; the Elector answers from client-go leaderelection's callbacks on a Lease, ReleaseOnCancel",
			replica: gocronElectorReplica,
		},
		{
			ID: "gocron-redis", Label: "gocron + Locker (Redis, redsync)", Backend: Redis,
			How:     "gocron v2 WithDistributedLocker; a redsync mutex per run named after the job, WithTries(1) as gocron-redis-lock's README, redsync's 8s expiry",
			replica: gocronRedisReplica,
		},
		{
			ID: "leaderjob-sidecar", Label: "leaderjob (sidecar, leaderjob-elector)", Backend: APIServer,
			How:     "LEADERJOB_GUARD=sidecar asking leaderjob-elector in the same pod (a native sidecar: started first, stopped after the app); in-memory ledger",
			replica: sidecarReplica,
		},
	}
}

// Available reports whether the contender can run in e, and why not.
func (c *Contender) Available(e *Env) (bool, string) {
	if c.available == nil {
		return true, ""
	}
	return c.available(e)
}

// spreadAvailable reports whether the library reads LEADERJOB_SPREAD: the
// spread mode is being built, and a library without it would silently
// ignore the variable and run the catch-up contender again.
func spreadAvailable(e *Env) (bool, string) {
	found := false
	_ = filepath.WalkDir(e.LibraryDir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case found:
			return fs.SkipAll
		case d.IsDir():
			switch {
			case d.Name() == ".git":
				return filepath.SkipDir
			case filepath.Dir(path) == e.LibraryDir && strings.Contains(" bench internal examples cmd testdata ", " "+d.Name()+" "):
				return filepath.SkipDir // the other modules and the test rig
			}
			return nil
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "LEADERJOB_SPREAD") {
				found = true
			}
		}
		return nil
	})
	if !found {
		return false, "this build of the library does not read LEADERJOB_SPREAD yet"
	}
	return true, ""
}

// apiReplica makes a replica whose processes reach the apiserver through a
// proxy of its own, with a kubeconfig that names the proxy.
func apiReplica(e *Env, name string) (*Replica, string, error) {
	p, err := proxy.NewAPI(e.API)
	if err != nil {
		return nil, "", err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: p.URL()}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench", Namespace: e.Namespace}
	kc.CurrentContext = "bench"
	path := filepath.Join(e.Dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		_ = p.Close()
		return nil, "", fmt.Errorf("writing %s: %w", path, err)
	}
	return &Replica{Name: name, proxy: p}, path, nil
}

// baseEnv is what every process gets of the bench's environment.
func baseEnv(name string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "POD_NAME=" + name}
}

// leaderjobEnv is the environment contract of a leaderjob replica: JSON
// logs, the endpoints (for /readyz) on a port of its own.
func leaderjobEnv(name, httpAddr string) []string {
	return append(baseEnv(name), "LEADERJOB_LOG_FORMAT=json", "LEADERJOB_HTTP_ADDR="+httpAddr)
}

func leaderjobReplica(extra []string) func(e *Env, name, release string) (*Replica, error) {
	return func(e *Env, name, release string) (*Replica, error) {
		r, kubeconfig, err := apiReplica(e, name)
		if err != nil {
			return nil, err
		}
		httpAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		env := append(leaderjobEnv(name, httpAddr),
			"KUBECONFIG="+kubeconfig,
			"LEADERJOB_GUARD=lease",
			"LEADERJOB_LEASE_NAME=bench",
			"LEADERJOB_LEASE_NAMESPACE="+e.Namespace,
			"LEADERJOB_LEASE_DURATION="+e.Timings.Lease.String(),
			"LEADERJOB_RENEW_DEADLINE="+e.Timings.Renew.String(),
			"LEADERJOB_RETRY_PERIOD="+e.Timings.Retry.String(),
			// As the example Deployment sets it from the pod-template-hash
			// label: a rollout hands leadership to the new release.
			"LEADERJOB_POD_TEMPLATE_HASH="+release,
		)
		env = append(env, extra...)
		r.procs = []*proc{e.proc(name, "app", func() *exec.Cmd {
			cmd := exec.Command(e.ContenderBin, "leaderjob", "-work="+e.Work.String())
			cmd.Env = env
			return cmd
		})}
		r.ready = []string{"http://" + httpAddr + "/readyz"}
		return r, nil
	}
}

func sidecarReplica(e *Env, name, release string) (*Replica, error) {
	r, kubeconfig, err := apiReplica(e, name)
	if err != nil {
		return nil, err
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	electorAddr, opsAddr, httpAddr := addrs[0], addrs[1], addrs[2]
	elector := e.proc(name, "elector", func() *exec.Cmd {
		cmd := exec.Command(e.ElectorBin,
			"--election=bench",
			"--election-namespace="+e.Namespace,
			"--id="+name,
			"--http="+electorAddr,
			"--ops-addr="+opsAddr,
			"--kubeconfig="+kubeconfig,
			"--lease-duration="+e.Timings.Lease.String(),
			"--renew-deadline="+e.Timings.Renew.String(),
			"--retry-period="+e.Timings.Retry.String(),
			"--log-format=json",
		)
		cmd.Env = baseEnv(name)
		return cmd
	})
	env := append(leaderjobEnv(name, httpAddr),
		"LEADERJOB_GUARD=sidecar",
		"LEADERJOB_SIDECAR_URL=http://"+electorAddr+"/",
	)
	app := e.proc(name, "app", func() *exec.Cmd {
		cmd := exec.Command(e.ContenderBin, "leaderjob", "-work="+e.Work.String())
		cmd.Env = env
		return cmd
	})
	r.procs = []*proc{elector, app}
	r.ready = []string{"http://" + opsAddr + "/readyz", "http://" + httpAddr + "/readyz"}
	return r, nil
}

func gocronElectorReplica(e *Env, name, release string) (*Replica, error) {
	r, kubeconfig, err := apiReplica(e, name)
	if err != nil {
		return nil, err
	}
	readyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r.procs = []*proc{e.proc(name, "app", func() *exec.Cmd {
		cmd := exec.Command(e.ContenderBin, "gocron-elector",
			"-kubeconfig="+kubeconfig,
			"-namespace="+e.Namespace,
			"-lease=bench",
			"-id="+name,
			"-lease-duration="+e.Timings.Lease.String(),
			"-renew-deadline="+e.Timings.Renew.String(),
			"-retry-period="+e.Timings.Retry.String(),
			"-ready-addr="+readyAddr,
			"-work="+e.Work.String(),
		)
		cmd.Env = baseEnv(name)
		return cmd
	})}
	r.ready = []string{"http://" + readyAddr + "/readyz"}
	return r, nil
}

func gocronRedisReplica(e *Env, name, release string) (*Replica, error) {
	p, err := proxy.NewRedis(e.RedisAddr)
	if err != nil {
		return nil, err
	}
	readyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &Replica{Name: name, proxy: p}
	r.procs = []*proc{e.proc(name, "app", func() *exec.Cmd {
		cmd := exec.Command(e.ContenderBin, "gocron-redis",
			"-redis="+p.Addr(),
			"-id="+name,
			"-ready-addr="+readyAddr,
			"-work="+e.Work.String(),
		)
		cmd.Env = baseEnv(name)
		return cmd
	})}
	r.ready = []string{"http://" + readyAddr + "/readyz"}
	return r, nil
}

// Timings are the election timings every Lease-based contender uses.
type Timings struct {
	Lease, Renew, Retry time.Duration
}

func (t Timings) String() string { return fmt.Sprintf("%v/%v/%v", t.Lease, t.Renew, t.Retry) }
