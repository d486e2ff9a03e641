package authd

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// stateTimeout bounds one query of the state store.
const stateTimeout = 5 * time.Second

// notifyChannel is the PostgreSQL channel on which authd processes
// sharing a state store tell each other about revocations.
const notifyChannel = "spread_authd_revoke"

// Revocations are also written to the table authd_revocations, so that
// a process whose listening connection broke replays the ones it missed
// once it listens again.
const (
	// revocationsKept is how long a row is kept: about the longest
	// outage of a listening connection that loses nothing.
	revocationsKept = 10 * time.Minute
	// replayMargin is how far before its last sure contact with the
	// channel a process replays from. It covers a row stamped (now(),
	// the start of its transaction) a little before it commits, and a
	// notification still on its way when the connection broke.
	replayMargin = 30 * time.Second
)

// listenHeartbeat is how often a silent listening connection is
// checked; each answer is a sure contact. A variable for tests.
var listenHeartbeat = 10 * time.Second

// listenerName is the application_name of a process's listening
// connection (pg_stat_activity shows it).
const listenerName = "spread authd revocations"

// maxLiveTickets bounds the tickets of one user for one service that a
// challenge redemption compares.
const maxLiveTickets = maxSessionsPerUser * maxTicketsPerSession

// SQLState keeps authd's sessions and tickets in PostgreSQL, so that
// several authd processes serve the same users (Config.State). Tickets
// are stored only as their SHA-256 and MD5; a redemption consumes a
// ticket with one conditional DELETE, so that of two authd processes
// redeeming the same ticket at once only one succeeds. When a session
// ends, the process that ends it records the revocation and sends a
// NOTIFY, and every process passes the revocation to the services
// connected to it; a process whose listening connection was down
// replays the revocations recorded meanwhile once it listens again (up
// to 10 minutes of them). Expired rows are purged every 30 s. Every
// query has a 5 s timeout; a failed query answers "cannot check now",
// never a refusal.
type SQLState struct {
	pool    *pgxpool.Pool
	dsn     string
	origin  string    // this process's id in notifications
	stateID string    // the database's state id (authd_meta), the prefix of its handles
	opened  time.Time // the database's clock when the store was opened

	listening atomic.Bool // the revocation channel is up
}

// OpenSQLState connects to the PostgreSQL database at dsn
// (postgres://...) and creates authd's tables if they are missing.
func OpenSQLState(ctx context.Context, dsn string) (*SQLState, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("authd: state store: %w", err)
	}
	st := &SQLState{pool: pool, dsn: dsn, origin: newHandle()}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := st.schema(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("authd: state store: %w", err)
	}
	return st, nil
}

// Close closes the connections.
func (st *SQLState) Close() { st.pool.Close() }

const schemaSQL = `
CREATE TABLE IF NOT EXISTS authd_sessions (
	id text PRIMARY KEY,
	user_name text NOT NULL,
	expires timestamptz NOT NULL,
	attached boolean NOT NULL DEFAULT true);
CREATE INDEX IF NOT EXISTS authd_sessions_user ON authd_sessions (user_name);
CREATE INDEX IF NOT EXISTS authd_sessions_expires ON authd_sessions (expires);
CREATE TABLE IF NOT EXISTS authd_tickets (
	hash bytea PRIMARY KEY,
	md5 bytea NOT NULL,
	user_name text NOT NULL,
	service text NOT NULL,
	session text NOT NULL REFERENCES authd_sessions (id) ON DELETE CASCADE,
	expires timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS authd_tickets_user ON authd_tickets (user_name, service);
CREATE INDEX IF NOT EXISTS authd_tickets_session ON authd_tickets (session);
CREATE INDEX IF NOT EXISTS authd_tickets_expires ON authd_tickets (expires);
CREATE TABLE IF NOT EXISTS authd_handles (
	session text NOT NULL REFERENCES authd_sessions (id) ON DELETE CASCADE,
	service text NOT NULL,
	handle text NOT NULL,
	PRIMARY KEY (session, service));
CREATE TABLE IF NOT EXISTS authd_notices (
	session text NOT NULL REFERENCES authd_sessions (id) ON DELETE CASCADE,
	caller text NOT NULL,
	handle text NOT NULL,
	PRIMARY KEY (session, caller, handle));
CREATE TABLE IF NOT EXISTS authd_revocations (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	note text NOT NULL);
CREATE INDEX IF NOT EXISTS authd_revocations_at ON authd_revocations (at);
CREATE TABLE IF NOT EXISTS authd_meta (
	name text PRIMARY KEY,
	value text NOT NULL);
`

// schema creates the tables, one process at a time, and notes the
// database's clock.
func (st *SQLState) schema(ctx context.Context) error {
	return pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7236501)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, schemaSQL); err != nil {
			return err
		}
		// The state's id, made by the first process: every handle
		// issued from this database starts with it.
		if _, err := tx.Exec(ctx, `INSERT INTO authd_meta (name, value) VALUES ('state', $1) ON CONFLICT DO NOTHING`, newStateID()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT value FROM authd_meta WHERE name = 'state'`).Scan(&st.stateID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT now()`).Scan(&st.opened)
	})
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func (st *SQLState) addSession(ctx context.Context, user string, ttl time.Duration) (*session, error) {
	s := &session{id: newHandle(), user: user, attached: true}
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM authd_sessions WHERE user_name = $1`, user).Scan(&n); err != nil {
			return err
		}
		if n >= maxSessionsPerUser {
			// Forget the detached session that ends first.
			if _, err := tx.Exec(ctx, `DELETE FROM authd_sessions WHERE id = (
				SELECT id FROM authd_sessions WHERE user_name = $1 AND NOT attached ORDER BY expires LIMIT 1)`, user); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO authd_sessions (id, user_name, expires) VALUES ($1, $2, now() + $3 * interval '1 second') RETURNING expires`,
			s.id, user, seconds(ttl)).Scan(&s.expires)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (st *SQLState) mint(ctx context.Context, s *session, service string, ttl time.Duration) (string, error) {
	str := base64.RawURLEncoding.EncodeToString(randomBytes(ticketBytes))
	sum := sha256.Sum256([]byte(str))
	m := md5.Sum([]byte(str))
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM authd_sessions WHERE id = $1 AND expires > now() FOR UPDATE`, s.id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errSessionEnded
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM authd_tickets WHERE session = $1 AND expires <= now()`, s.id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM authd_tickets WHERE session = $1`, s.id).Scan(&n); err != nil {
			return err
		}
		if n >= maxTicketsPerSession {
			return errTooManyTickets
		}
		_, err = tx.Exec(ctx, `INSERT INTO authd_tickets (hash, md5, user_name, service, session, expires)
			VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 second')`, sum[:], m[:], s.user, service, s.id, seconds(ttl))
		return err
	})
	if err != nil {
		return "", err
	}
	return str, nil
}

// consume deletes the live ticket with hash of user for service and
// returns its session; nil when another redemption consumed it first,
// or it is not there.
func (st *SQLState) consume(ctx context.Context, hash []byte, user, service string) (*session, error) {
	s := &session{}
	err := st.pool.QueryRow(ctx, `WITH t AS (
			DELETE FROM authd_tickets WHERE hash = $1 AND user_name = $2 AND service = $3 AND expires > now()
			RETURNING session)
		SELECT s.id, s.user_name, s.expires FROM authd_sessions s JOIN t ON s.id = t.session`,
		hash, user, service).Scan(&s.id, &s.user, &s.expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (st *SQLState) redeemChallenge(ctx context.Context, user, service string, challenge, response []byte) (*session, error) {
	rows, err := st.pool.Query(ctx, `SELECT hash, md5 FROM authd_tickets
		WHERE user_name = $1 AND service = $2 AND expires > now() LIMIT $3`, user, service, maxLiveTickets)
	if err != nil {
		return nil, err
	}
	var found []byte
	var want [md5.Size]byte
	for rows.Next() {
		var hash, m []byte
		if err := rows.Scan(&hash, &m); err != nil {
			rows.Close()
			return nil, err
		}
		h := md5.New()
		h.Write(m)
		h.Write(challenge)
		h.Sum(want[:0])
		if subtle.ConstantTimeCompare(want[:], response) == 1 {
			found = hash
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, nil
	}
	return st.consume(ctx, found, user, service)
}

func (st *SQLState) redeemTicket(ctx context.Context, user, service string, tk []byte) (*session, error) {
	sum := sha256.Sum256(tk)
	return st.consume(ctx, sum[:], user, service)
}

func (st *SQLState) handle(ctx context.Context, s *session, service, caller string) (string, error) {
	var h string
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM authd_sessions WHERE id = $1 AND expires > now() FOR SHARE`, s.id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // ended
		} else if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO authd_handles (session, service, handle) VALUES ($1, $2, $3)
			ON CONFLICT (session, service) DO UPDATE SET handle = authd_handles.handle RETURNING handle`,
			s.id, service, newStateHandle(st.stateID)).Scan(&h); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO authd_notices (session, caller, handle) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, s.id, caller, h)
		return err
	})
	if err != nil {
		return "", err
	}
	return h, nil
}

func (st *SQLState) end(ctx context.Context, s *session) (map[notice]bool, error) {
	var out map[notice]bool
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		out = nil
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM authd_sessions WHERE id = $1 FOR UPDATE`, s.id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT caller, handle FROM authd_notices WHERE session = $1`, s.id)
		if err != nil {
			return err
		}
		out = map[notice]bool{}
		for rows.Next() {
			var n notice
			if err := rows.Scan(&n.caller, &n.handle); err != nil {
				rows.Close()
				return err
			}
			out[n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM authd_sessions WHERE id = $1`, s.id)
		return err
	})
	return out, err
}

func (st *SQLState) detach(ctx context.Context, s *session) {
	// The unredeemed tickets go; a session none of whose tickets was
	// redeemed ends.
	_ = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM authd_tickets WHERE session = $1`, s.id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM authd_sessions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM authd_handles WHERE session = $1)`, s.id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE authd_sessions SET attached = false WHERE id = $1`, s.id)
		return err
	})
}

func (st *SQLState) userSessions(ctx context.Context, user string) ([]*session, error) {
	return st.sessions(ctx, `SELECT id, user_name, expires FROM authd_sessions WHERE user_name = $1`, user)
}

func (st *SQLState) sessions(ctx context.Context, q string, args ...any) ([]*session, error) {
	rows, err := st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*session
	for rows.Next() {
		s := &session{}
		if err := rows.Scan(&s.id, &s.user, &s.expires); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (st *SQLState) sweep(ctx context.Context) ([]*session, error) {
	if _, err := st.pool.Exec(ctx, `DELETE FROM authd_tickets WHERE expires <= now()`); err != nil {
		return nil, err
	}
	if _, err := st.pool.Exec(ctx, `DELETE FROM authd_revocations WHERE at < now() - $1 * interval '1 second'`,
		seconds(revocationsKept)); err != nil {
		return nil, err
	}
	return st.sessions(ctx, `SELECT id, user_name, expires FROM authd_sessions WHERE expires <= now() LIMIT 1000`)
}

func (st *SQLState) counts(ctx context.Context) (sessions, tickets int, err error) {
	err = st.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM authd_sessions WHERE expires > now()),
		(SELECT count(*) FROM authd_tickets WHERE expires > now())`).Scan(&sessions, &tickets)
	return
}

func (st *SQLState) close() {}

func (st *SQLState) id() string { return st.stateID }

// liveHandles answers from the database, so that every process sharing
// it answers alike.
func (st *SQLState) liveHandles(ctx context.Context, caller string, handles []string) (map[string]bool, error) {
	live := map[string]bool{}
	if len(handles) == 0 {
		return live, nil
	}
	rows, err := st.pool.Query(ctx, `SELECT n.handle FROM authd_notices n JOIN authd_sessions s ON s.id = n.session
		WHERE n.caller = $1 AND n.handle = ANY($2) AND s.expires > now()`, caller, handles)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		live[h] = true
	}
	return live, rows.Err()
}

var _ stateStore = (*SQLState)(nil)

// revocationNote is a revocation one authd process sends the others:
// revoke(User, Handle) to the minds of Service; with no Handle, every
// ticket session of User at every service.
type revocationNote struct {
	Origin  string `json:"o"`
	User    string `json:"u"`
	Handle  string `json:"h,omitempty"`
	Service string `json:"s,omitempty"`
	Until   int64  `json:"x,omitempty"`
}

// publish sends n to the other authd processes: one statement records
// it in authd_revocations (for a process that is not listening now) and
// notifies the listening ones when it commits.
func (st *SQLState) publish(log *slog.Logger, n revocationNote) {
	n.Origin = st.origin
	payload, err := json.Marshal(n)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	if _, err := st.pool.Exec(ctx, `WITH r AS (INSERT INTO authd_revocations (note) VALUES ($2) RETURNING note)
		SELECT pg_notify($1, note) FROM r`, notifyChannel, string(payload)); err != nil {
		log.Error("authd: could not tell the other authd processes about a revocation; their services keep the session", "user", logName(n.User), "err", err)
	}
}

// subscribe listens for the other processes' revocations until ctx
// ends, reconnecting when the connection is lost. It returns once it
// listens, or after stateTimeout (and keeps trying).
//
// Each time it (re)connects, once LISTEN is in place, it replays the
// revocations recorded since replayMargin before its last sure contact
// with the channel (at first, the opening of the store): the ones sent
// while it was not listening, and some it has delivered already, which
// is harmless (revoking an ended session does nothing).
func (st *SQLState) subscribe(ctx context.Context, log *slog.Logger, f func(revocationNote)) {
	up := make(chan struct{})
	var once sync.Once
	beat := listenHeartbeat
	go func() {
		delay := 200 * time.Millisecond
		mark := st.opened // every revocation recorded before mark-replayMargin was delivered
		for ctx.Err() == nil {
			err := st.listen(ctx, log, f, &mark, beat, func() {
				delay = 200 * time.Millisecond
				once.Do(func() { close(up) })
			})
			if ctx.Err() != nil {
				return
			}
			log.Error("authd: lost the state store's revocation channel; retrying", "err", err)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, 5*time.Second)
		}
	}()
	t := time.NewTimer(stateTimeout)
	defer t.Stop()
	select {
	case <-up:
	case <-t.C:
		log.Warn("authd: not yet listening for the other authd processes' revocations; still trying")
	case <-ctx.Done():
	}
}

// listen listens on a new connection until it fails, checking a
// channel silent for beat. *mark is the database's time of its last
// sure contact with the channel: every revocation recorded before
// *mark-replayMargin has been delivered.
func (st *SQLState) listen(ctx context.Context, log *slog.Logger, f func(revocationNote), mark *time.Time, beat time.Duration, ok func()) error {
	// A connection of its own, outside the pool, which it would
	// otherwise hold for good.
	cfg := st.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerName
	cctx, cancel := context.WithTimeout(ctx, stateTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	lctx, cancel := context.WithTimeout(ctx, stateTimeout)
	_, err = conn.Exec(lctx, "LISTEN "+notifyChannel)
	cancel()
	if err != nil {
		return err
	}
	// From here on every revocation that commits is notified here; the
	// ones before are in the table.
	if err := st.replay(ctx, log, conn, mark, f); err != nil {
		return err
	}
	if !st.listening.Swap(true) {
		log.Info("authd: listening for the other authd processes' revocations")
	}
	ok()
	for {
		wctx, cancel := context.WithTimeout(ctx, beat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil {
			st.deliver(n.Payload, f)
		}
		if err != nil && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
			// Silence: check the connection. Before it answers a
			// query, PostgreSQL sends a listener the notifications of
			// what committed before the query (pgx keeps them for
			// WaitForNotification), so the answer is a sure contact,
			// up to the small delays replayMargin covers.
			hctx, cancel := context.WithTimeout(ctx, stateTimeout)
			err = conn.QueryRow(hctx, `SELECT now()`).Scan(mark)
			cancel()
		}
		if err != nil {
			st.listening.Store(false)
			return err
		}
	}
}

// replay delivers the revocations recorded since *mark-replayMargin,
// on conn, which listens already, and moves *mark to now.
func (st *SQLState) replay(ctx context.Context, log *slog.Logger, conn *pgx.Conn, mark *time.Time, f func(revocationNote)) error {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	var now time.Time
	if err := conn.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return err
	}
	from := mark.Add(-replayMargin)
	if from.Before(now.Add(-revocationsKept)) {
		log.Warn("authd: the revocation channel was down for longer than revocations are kept; the services connected here may miss some",
			"since", mark.UTC().Format(time.RFC3339), "kept", revocationsKept)
	}
	rows, err := conn.Query(ctx, `SELECT note FROM authd_revocations WHERE at >= $1 ORDER BY id`, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			return err
		}
		if st.deliver(payload, f) {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	*mark = now
	if n > 0 {
		log.Info("authd: replayed the other authd processes' recent revocations", "count", n)
	}
	return nil
}

// deliver passes the revocation in payload to f, unless this process
// sent it; it reports whether it did.
func (st *SQLState) deliver(payload string, f func(revocationNote)) bool {
	var note revocationNote
	if json.Unmarshal([]byte(payload), &note) != nil || note.Origin == st.origin || note.User == "" {
		return false
	}
	f(note)
	return true
}
