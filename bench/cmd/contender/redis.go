package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-co-op/gocron/v2"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// redisLocker is a gocron.Locker on Redis, built as gocron's own
// gocron-redis-lock module (github.com/go-co-op/gocron-redis-lock/v2)
// builds its locker. That module is not served by the module proxy this
// repository builds from; it wraps redsync (github.com/go-redsync/redsync/v4)
// over a go-redis client, so this is the same construction on redsync
// directly.
// Each run takes a redsync mutex named after the job (gocron passes the job
// name as the key) and releases it when the run ends; redsync's defaults
// apply (an 8s expiry) except for the tries, which the module's README sets
// to 1 (WithTries(1)): a replica that does not get the lock at once skips
// the fire, as ShedLock does.
type redisLocker struct {
	rs   *redsync.Redsync
	opts []redsync.Option
}

// newRedisLocker checks the connection with a PING, as the module's
// NewRedisLocker does, and returns the locker.
func newRedisLocker(client redis.UniversalClient, opts ...redsync.Option) (*redisLocker, error) {
	if err := client.Ping(context.Background()).Err(); err != nil {
		return nil, fmt.Errorf("connecting to redis: %w", err)
	}
	return &redisLocker{rs: redsync.New(goredis.NewPool(client)), opts: opts}, nil
}

func (l *redisLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	m := l.rs.NewMutex(key, l.opts...)
	if err := m.LockContext(ctx); err != nil {
		return nil, errors.New("failed to obtain lock")
	}
	return redisLock{m}, nil
}

type redisLock struct{ m *redsync.Mutex }

func (l redisLock) Unlock(ctx context.Context) error {
	ok, err := l.m.UnlockContext(ctx)
	if err != nil || !ok {
		return errors.New("failed to release lock")
	}
	return nil
}

// runGocronRedis runs the job on gocron v2 with the locker above, as the
// locker's README shows: a go-redis client, the locker with WithTries(1),
// gocron.WithDistributedLocker. On SIGTERM the scheduler shuts down
// (waiting for a running job, whose lock it then releases).
func runGocronRedis(args []string) error {
	fs := flag.NewFlagSet("gocron-redis", flag.ContinueOnError)
	d := workFlag(fs)
	addr := fs.String("redis", "127.0.0.1:6379", "the Redis server's address")
	id := fs.String("id", os.Getenv("POD_NAME"), "this replica's identity (for its log)")
	readyAddr := fs.String("ready-addr", "", "address of /readyz; empty serves none")
	if err := parse(fs, args); err != nil {
		return err
	}
	client := redis.NewClient(&redis.Options{Addr: *addr})
	defer client.Close()
	locker, err := newRedisLocker(client, redsync.WithTries(1))
	if err != nil {
		return err
	}
	s, err := tickScheduler(gocron.WithDistributedLocker(locker), *id, *d)
	if err != nil {
		return err
	}
	s.Start()
	// Ready once the scheduler runs (Redis answered at start).
	stopReady, err := serveReady(*readyAddr, func() error { return nil })
	if err != nil {
		_ = s.Shutdown()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	stopReady()
	return s.Shutdown()
}
