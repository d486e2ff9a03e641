// Package djangostore lets Spread log users in against a Django
// project's user table, with the hashes of package django
// (cred/django). It registers the database/sql drivers it uses: a pure-Go
// SQLite (modernc.org/sqlite) and PostgreSQL (pgx).
//
// Open connects to Django's database: "sqlite:PATH" (a pure-Go SQLite
// driver) or a "postgres://" URL (pgx). The Store reads and writes the
// auth_user table, or a custom user model's table with the same columns
// (Config.UserTable). An existing table is used as it is and never
// altered; EnsureSchema creates a missing one exactly as Django 3.2's
// migrations leave it on that backend.
//
// # Logins
//
// A Store is a cred.KindsChecker for cred.KindPassword. Check follows
// Django's ModelBackend: exact username, verified password, active user;
// unknown users, unusable passwords and unreadable hashes cost the same
// as a wrong password (a dummy hash at the current count); success sets
// last_login to the time of the login (a timestamp with time zone on
// PostgreSQL, Django's UTC text form on SQLite). With Config.Rehash, a
// hash Django would replace after login (another algorithm, another
// count, a short salt) is replaced before Check returns.
//
// A database that cannot answer is not a wrong password: every
// database round trip of a check is bounded by Config.QueryTimeout
// (default 5 seconds), and a database error or a missed deadline makes
// Check return a *cred.UnavailableError (matching cred.ErrUnavailable),
// so that a stopped or frozen PostgreSQL answers "cannot check now"
// instead of hanging, and a login protocol does not count the attempt
// against its throttle.
//
// # When last_login lands
//
// Check answers without waiting for the last_login write, which on
// SQLite costs a journal write and an fsync per transaction. It records
// the user and the time of the login; a background goroutine, started on
// demand and ended when nothing is left, gathers logins for a second and
// then writes everything recorded in one transaction (the newest time per
// user wins), so that a busy server pays one journal write and fsync per
// second, not one per login. The value is in the table about a second
// after the login was answered. Store.Flush waits until
// every login recorded before the call is written and returns the first
// write error since the previous Flush; Store.Close flushes, then closes
// the database. A failed batch is not retried: its error goes to the next
// Flush or Close and, with Config.Logger, to the log. Pending values
// (at most 4096 users; past that Check waits for the database) are lost
// if the process exits without Close. Config.ReadOnly writes nothing.
//
// AddUser, SetPassword, SetActive, DeleteUser and ListUsers serve
// command-line tools. Usernames follow Django's default rule
// (ValidUsername); Spread does not apply the NFKC normalization
// Django's forms apply.
//
// Timestamps on SQLite are written as Django writes them with
// USE_TZ = True (UTC, no offset). A project with USE_TZ = False reads
// them as local time.
package djangostore
