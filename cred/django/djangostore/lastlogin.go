package djangostore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// maxPending bounds the users whose last_login waits to be written. When
// that many distinct users are pending (the database has been slower
// than the logins for a while), a successful Check of yet another user
// waits until the batch being written completes.
const maxPending = 4096

// gatherDelay is how long the writer waits, after a login finds it idle,
// before it writes: logins of that moment share one transaction (on
// SQLite one journal and one fsync) instead of paying for one each.
// Flush, Close and a full pending set cut the wait short.
const gatherDelay = time.Second

// flushTimeout bounds one batch of last_login writes.
const flushTimeout = 30 * time.Second

// errClosed is returned by a Check that succeeds while the Store closes.
var errClosed = errors.New("django: store is closed")

// lastLogins holds the last_login writes that have not landed yet. It is
// guarded by Store.mu.
type lastLogins struct {
	pending  map[int64]time.Time // user id -> newest login time not yet written
	running  bool                // a flusher goroutine exists
	closed   bool                // Close has begun
	recorded uint64              // logins recorded so far
	written  uint64              // logins whose batch has completed (with or without error)
	progress chan struct{}       // closed, and replaced, whenever written moves
	err      error               // first write error since the last Flush
	hurry    int                 // Flush calls (or full Checks) waiting: write without gathering
	wake     chan struct{}       // closed to end the writer's gathering wait
	batches  int                 // transactions written, for tests
}

// recordLogin notes that user id logged in at t, and makes sure a
// flusher will write it. It waits only when maxPending other users are
// already pending.
func (s *Store) recordLogin(ctx context.Context, id int64, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ll := &s.ll
	for {
		if ll.closed {
			return errClosed
		}
		if _, ok := ll.pending[id]; ok || len(ll.pending) < maxPending {
			break
		}
		// Full: the flusher is running (pending is not empty); wait for
		// it to take the set, now.
		ch := ll.progressChan()
		ll.hurry++
		ll.wakeWriter()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			ll.hurry--
		case <-ctx.Done():
			s.mu.Lock()
			ll.hurry--
			return fmt.Errorf("django: record last_login: %w", ctx.Err())
		}
	}
	if ll.pending == nil {
		ll.pending = make(map[int64]time.Time)
	}
	if old, ok := ll.pending[id]; !ok || t.After(old) {
		ll.pending[id] = t
	}
	ll.recorded++
	if !ll.running {
		ll.running = true
		go s.flushLoop()
	}
	return nil
}

// progressChan returns the channel closed at the next completed batch.
// Call with Store.mu held.
func (ll *lastLogins) progressChan() chan struct{} {
	if ll.progress == nil {
		ll.progress = make(chan struct{})
	}
	return ll.progress
}

// wakeWriter ends the writer's gathering wait. Call with Store.mu held.
func (ll *lastLogins) wakeWriter() {
	if ll.wake != nil {
		close(ll.wake)
		ll.wake = nil
	}
}

// flushLoop writes batches until nothing is pending, then ends. Before
// each batch it gathers logins for gatherDelay unless someone waits.
func (s *Store) flushLoop() {
	timer := time.NewTimer(gatherDelay)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ll := &s.ll
		if ll.hurry == 0 && !ll.closed && len(ll.pending) > 0 {
			wake := make(chan struct{})
			ll.wake = wake
			s.mu.Unlock()
			timer.Reset(gatherDelay)
			select {
			case <-timer.C:
			case <-wake:
			}
			s.mu.Lock()
			ll.wake = nil
		}
		batch, upto := ll.pending, ll.recorded
		ll.pending = nil
		if len(batch) == 0 {
			ll.running = false
			ll.written = upto
			ll.notify()
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		err := s.writeLastLogins(batch)

		s.mu.Lock()
		ll.batches++
		if err != nil {
			if ll.err == nil {
				ll.err = err
			}
			if s.cfg.Logger != nil {
				s.cfg.Logger.Error("django: last_login not written", "users", len(batch), "err", err)
			}
		}
		ll.written = upto
		ll.notify()
		s.mu.Unlock()
	}
}

// notify wakes everyone waiting for progress. Call with Store.mu held.
func (ll *lastLogins) notify() {
	if ll.progress != nil {
		close(ll.progress)
		ll.progress = nil
	}
}

// writeLastLogins sets last_login for every user of batch in one
// transaction.
func (s *Store) writeLastLogins(batch map[int64]time.Time) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = fmt.Errorf("django: update last_login of %d users: %w", len(batch), err)
		}
	}()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(`UPDATE `+s.table+` SET "last_login" = ? WHERE "id" = ?`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for id, t := range batch {
		if _, err := stmt.ExecContext(ctx, s.timeArg(t), id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Flush waits until the last_login of every login that Check accepted
// before the call has been written (or its write has failed), or until
// ctx ends. It returns the first error the background writes met since
// the previous Flush (or Close), and forgets it; or ctx's error when ctx
// ended first, in which case the write error, if any, is kept for the
// next Flush.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ll := &s.ll
	target := ll.recorded
	if ll.written < target {
		ll.hurry++
		defer func() { ll.hurry-- }() // runs with s.mu held again
		ll.wakeWriter()
	}
	for ll.written < target {
		ch := ll.progressChan()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return ctx.Err()
		}
	}
	err := ll.err
	ll.err = nil
	return err
}

// Close writes the pending last_login values, then closes the database.
// A Check that succeeds after Close has begun returns an error. Close
// returns the first last_login write error not yet returned by Flush,
// joined with the error of closing the database.
func (s *Store) Close() error {
	s.mu.Lock()
	s.ll.closed = true
	s.ll.wakeWriter()
	s.mu.Unlock()
	ferr := s.Flush(context.Background())
	return errors.Join(ferr, s.db.Close())
}
