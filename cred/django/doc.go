// Package django lets Spread log users in against a Django project's
// user table, and read and write Django's password hashes.
//
// # Hashes
//
// Verify checks a password against any value Django stores in
// auth_user.password, whatever release wrote it:
//
//   - pbkdf2_sha256 and pbkdf2_sha1, at the iteration count the value
//     states (Django 3.2 writes 260,000, Django 6.0 1,200,000);
//   - argon2, both argon2id (Django 3.2 and later) and argon2i (Django
//     1.10 to 3.1), Argon2 version 1.3 ("v=19"), with the memory, time
//     and parallelism stored in the value;
//   - bcrypt_sha256 (bcrypt over the hex SHA-256 of the password) and
//     bcrypt (the password itself, of which bcrypt reads 72 bytes);
//   - scrypt in the format of Django 4.0 and later
//     ("scrypt$N$salt$r$p$hash");
//   - the legacy salted sha1 and md5, unsalted_sha1 ("sha1$$hex"), and
//     unsalted_md5, both bare (32 hex digits) and as "md5$$hex".
//
// Unusable passwords (Django's set_unusable_password, a leading "!")
// never verify. Three formats Django can read are refused with
// ErrUnsupported: crypt (Unix crypt(3), removed from Django in 5.0),
// argon2d, and Argon2 version 1.0 values (no "v=" field, or "v=16"),
// which argon2-cffi wrote before its release 16 and Django 3.2 still
// verifies (golang.org/x/crypto/argon2 implements version 1.3 only). Every
// comparison is constant-time; the tests check each format against
// values made by, and verdicts of, the real Django.
//
// MakePassword writes pbkdf2_sha256 with a 22-character salt from
// crypto/rand in Django's alphabet (128 bits, as Django 3.2 and later
// draw), at DefaultIterations: 260,000, the count of Django 3.2, the
// release Spread is tested against. MakePasswordIterations and
// Config.Iterations choose another count, such as Django60Iterations.
//
// # The user table
//
// Open connects to Django's database: "sqlite:PATH" (a pure-Go SQLite
// driver) or a "postgres://" URL (pgx). The Store reads and writes the
// auth_user table, or a custom user model's table with the same columns
// (Config.UserTable). An existing table is used as it is and never
// altered; EnsureSchema creates a missing one exactly as Django 3.2's
// migrations leave it on that backend.
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
package django
