// Package checkers provides ready-made cred.Checker implementations:
//
//   - [InMemory]: user names and plaintext passwords held in memory.
//     Accepts password and challenge credentials.
//   - [Anonymous]: admits anonymous credentials as [cred.AnonymousID].
//   - [FileDB]: a text file in Twisted's FilePasswordDB format
//     (user:password lines, optionally with hashed passwords).
//   - [Htpasswd]: an Apache htpasswd file with bcrypt entries. Accepts
//     password credentials only.
//
// Every checker reports the kinds it accepts (cred.KindsChecker), so it
// can be passed straight to cred.NewPortal. Credentials of another kind
// are answered with a *cred.UnhandledError.
//
// Refused logins return errors that match cred.ErrUnauthorizedLogin with
// errors.Is. A wrong password and an unknown user get the same error and
// cost about the same time: for an unknown user the checkers still run
// one comparison against a dummy secret (for htpasswd a dummy bcrypt hash
// of the file's usual cost). Secrets are compared in constant time, and
// no error or log message contains a password.
//
// The file-backed checkers read their file when they are created and
// then look at it (os.Stat) on every login: when its size, modification
// time or identity (inode) has changed, they read it again before
// checking. An edit is thus seen by the next login, without a restart and
// without a timer. Replace files by writing a new file and renaming it
// over the old one, so that a login never sees a half-written file. If
// the file cannot be read, logins are refused (fail closed) with an error
// that matches cred.ErrUnauthorizedLogin and wraps the cause (for a
// missing file, fs.ErrNotExist); the next login tries again. Edits that
// keep the size, the modification time and the inode are not noticed;
// renaming a new file into place always is.
//
// This package imports only cred, the standard library and
// golang.org/x/crypto/bcrypt.
package checkers
