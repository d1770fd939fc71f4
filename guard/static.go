package guard

import "context"

// Always is a Guard that always leads. Use it where exactly one replica runs
// anyway (local development, a single-replica Deployment) or for jobs that
// must run on every replica.
var Always Guard = static(true)

// Never is a Guard that never leads: every run is skipped with reason
// not_leader. Use it to disable jobs on a replica without removing them.
var Never Guard = static(false)

type static bool

func (s static) Check(ctx context.Context) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	if s {
		return Decision{Leader: true, Detail: "always leader"}, nil
	}
	return Decision{Detail: "guard is never"}, nil
}

func (s static) String() string {
	if s {
		return "always"
	}
	return "never"
}
