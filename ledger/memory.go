package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/leaderjob/leaderjob/wire"
)

// NewMemory returns a Backend that keeps the State in memory, as its JSON
// encoding, with a version that every Store changes. It is safe for
// concurrent use. It suits tests and single-process use, where the
// ledger need not outlive the process.
func NewMemory() Backend { return &memory{} }

// NewMemoryLimit is NewMemory with a size limit: a Store whose encoding
// (EncodedSize) is larger than maxBytes returns an error wrapping
// ErrTooLarge and stores nothing. maxBytes <= 0 means no limit.
func NewMemoryLimit(maxBytes int) Backend { return &memory{limit: maxBytes} }

type memory struct {
	mu      sync.Mutex
	data    []byte // nil: nothing stored yet
	version uint64
	limit   int
}

func (m *memory) Load(ctx context.Context) (State, string, error) {
	if err := ctx.Err(); err != nil {
		return State{}, "", err
	}
	m.mu.Lock()
	data, version := m.data, m.version
	m.mu.Unlock()
	if data == nil {
		return State{}, "", nil
	}
	var l wire.Ledger
	if err := json.Unmarshal(data, &l); err != nil {
		return State{}, "", fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return State(l), strconv.FormatUint(version, 10), nil
}

func (m *memory) Store(ctx context.Context, s State, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(wire.Ledger(s)) // as stored, unchecked: the Ledger checks
	if err != nil {
		return err
	}
	if m.limit > 0 && len(data) > m.limit {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), m.limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	current := ""
	if m.data != nil {
		current = strconv.FormatUint(m.version, 10)
	}
	if version != current {
		return ErrConflict
	}
	m.data = data
	m.version++
	return nil
}
