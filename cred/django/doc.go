// Package django reads and writes Django's password hashes. It imports
// no SQL driver: the checker over Django's user table is in package
// djangostore (cred/django/djangostore), which brings the drivers.
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
// djangostore's Config.Iterations choose another count, such as Django60Iterations.
package django
