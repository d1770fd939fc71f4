package wire

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// MaxLedgerShards bounds how many objects one app's ledger is spread over
// (Ledger.Shards).
const MaxLedgerShards = 64

// LedgerShardConfigMap returns the name of the ConfigMap that holds shard i
// of app's ledger: shard 0 is the ledger ConfigMap itself
// (<app>-leaderjob-ledger, which also holds the fencing tokens, the
// operators' pauses and run records), shard i > 0 is
// <app>-leaderjob-ledger-<i>. The names are fixed in advance, so that a
// Role can name every one of them.
func LedgerShardConfigMap(app string, i int) string {
	if i <= 0 {
		return LedgerConfigMap(app)
	}
	return LedgerConfigMap(app) + "-" + strconv.Itoa(i)
}

// LedgerShardOf returns the shard, in [0, n), that holds the record of the
// job named job in a ledger spread over n objects. The records of a
// one-shot job's releases (job@release) share the job's shard. The
// mapping is FNV-1a of the name modulo n, fixed for good: every release
// and every tool must agree on it.
func LedgerShardOf(job string, n int) int {
	if n <= 1 {
		return 0
	}
	base, _, _ := strings.Cut(job, "@")
	h := fnv.New32a()
	h.Write([]byte(base))
	return int(h.Sum32() % uint32(n))
}

// MergeLedgers returns the ledger that parts, the documents of one app's
// ledger objects (parts[0] the ledger ConfigMap's, parts[i] shard i's),
// hold together: the jobs of every part, and the rest (fence, pauses, run
// records, job names, shard count) from parts[0]; the fencing tokens are
// the largest any part holds, as every part keeps a copy of them. A job
// found in two parts (a write that moved it between shards was cut short,
// or the shard count changed) is the record of the later claim: the
// higher job fence, then the later claimed fire, then the later
// completion.
func MergeLedgers(parts []Ledger) Ledger {
	if len(parts) == 0 {
		return Ledger{}
	}
	out := parts[0]
	out.Jobs = nil
	for _, p := range parts {
		out.Tokens = max(out.Tokens, p.Tokens)
		out.Owner = max(out.Owner, p.Owner)
		if p.Version > out.Version {
			out.Version = p.Version
		}
		for name, js := range p.Jobs {
			if out.Jobs == nil {
				out.Jobs = make(map[string]*JobState)
			}
			if have, ok := out.Jobs[name]; !ok || later(js, have) {
				out.Jobs[name] = js
			}
		}
	}
	return out
}

// later reports whether a is a later record of a job than b.
func later(a, b *JobState) bool {
	if a.Fence != b.Fence {
		return a.Fence > b.Fence
	}
	at := func(js *JobState) (claimed, ended int64) {
		if js.Claimed != nil {
			claimed = js.Claimed.At.UnixNano()
		}
		if js.Completed != nil {
			ended = js.Completed.Ended.UnixNano()
		}
		return claimed, ended
	}
	ac, ae := at(a)
	bc, be := at(b)
	if ac != bc {
		return ac > bc
	}
	return ae > be
}

// SplitLedger spreads l over n objects (n < 1 is taken as 1): each job's
// record goes to its shard (LedgerShardOf), every part gets the format
// version and the fencing tokens, and parts[0] also the epoch fence, the
// pauses, run records, job names and the shard count (Shards = n, so
// that readers know how many objects to read). MergeLedgers(SplitLedger(l,
// n)) is l with Shards set to n.
func SplitLedger(l Ledger, n int) []Ledger {
	n = max(n, 1)
	parts := make([]Ledger, n)
	for i := range parts {
		parts[i] = Ledger{Version: l.Version, Tokens: l.Tokens, Owner: l.Owner}
	}
	parts[0].Fence, parts[0].Paused, parts[0].Runs, parts[0].JobNames = l.Fence, l.Paused, l.Runs, l.JobNames
	if n > 1 || l.Shards != 0 {
		parts[0].Shards = n // once spread, always said: 1 after spreading back
	}
	for name, js := range l.Jobs {
		p := &parts[LedgerShardOf(name, n)]
		if p.Jobs == nil {
			p.Jobs = make(map[string]*JobState)
		}
		p.Jobs[name] = js
	}
	return parts
}
