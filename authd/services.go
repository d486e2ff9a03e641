package authd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/cred"
)

// ServicePrefix starts the login name of a service at authd: a broker
// named "chat-a" logs in as "service:chat-a", with Spread's password
// login. User stores cannot hold such a name (Twisted's password file,
// htpasswd and Django all forbid ':' in user names), and authd never
// takes it for a user.
const ServicePrefix = "service:"

// Service options, the third field of a line of the services file.
const (
	// OptProxy lets a service forward logins and ticket checks for its
	// own services (a downstream authd, see Config.Upstream).
	OptProxy = "proxy"
	// OptAdmin lets a service revoke users (revokeUser).
	OptAdmin = "admin"
)

// Service is one service account.
type Service struct {
	Name    string
	Hash    []byte // bcrypt
	Options []string
}

// Has reports whether the service has option opt.
func (s *Service) Has(opt string) bool { return slices.Contains(s.Options, opt) }

// Services are the service accounts of an authd, read from an
// htpasswd-style file of bcrypt hashes, one per line:
//
//	NAME:BCRYPT-HASH[:OPTION,...]
//
// Empty lines and lines starting with '#' are ignored. OPTION is
// OptProxy or OptAdmin. Safe for concurrent use.
type Services struct {
	mu    sync.RWMutex
	byKey map[string]*Service
	dummy []byte
}

// NewServices returns the accounts given.
func NewServices(list ...*Service) *Services {
	s := &Services{byKey: map[string]*Service{}}
	cost := bcrypt.DefaultCost
	for i, v := range list {
		s.byKey[v.Name] = v
		if c, err := bcrypt.Cost(v.Hash); err == nil && (i == 0 || c > cost) {
			cost = c
		}
	}
	// An unknown name is compared with a hash as costly as the others'.
	s.dummy, _ = bcrypt.GenerateFromPassword(randomBytes(16), cost)
	return s
}

// LoadServices reads a services file.
func LoadServices(path string) (*Services, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authd: services file: %w", err)
	}
	list, err := parseServices(data)
	if err != nil {
		return nil, fmt.Errorf("authd: services file %s: %w", path, err)
	}
	return NewServices(list...), nil
}

func parseServices(data []byte) ([]*Service, error) {
	var out []*Service
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("line %d: want NAME:HASH[:OPTIONS]", n)
		}
		name, hash := parts[0], parts[1]
		if err := ValidServiceName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: service %q: not a bcrypt hash", n, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("line %d: service %q listed twice", n, name)
		}
		seen[name] = true
		svc := &Service{Name: name, Hash: []byte(hash)}
		if len(parts) == 3 && parts[2] != "" {
			for _, o := range strings.Split(parts[2], ",") {
				if o != OptProxy && o != OptAdmin {
					return nil, fmt.Errorf("line %d: service %q: unknown option %q", n, name, o)
				}
				svc.Options = append(svc.Options, o)
			}
		}
		out = append(out, svc)
	}
	return out, sc.Err()
}

// ValidServiceName checks a service name: 1 to 64 bytes of letters,
// digits, '.', '-' and '_'.
func ValidServiceName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("authd: a service name has 1 to 64 characters")
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("authd: service name %q: only letters, digits, '.', '-' and '_'", name)
		}
	}
	return nil
}

// AddService adds or replaces service name in the services file at path
// (created if missing) with a bcrypt hash of secret and the options.
// Other lines are kept as they are.
func AddService(path, name string, secret []byte, options ...string) error {
	if err := ValidServiceName(name); err != nil {
		return err
	}
	for _, o := range options {
		if o != OptProxy && o != OptAdmin {
			return fmt.Errorf("authd: unknown service option %q", o)
		}
	}
	if len(secret) == 0 {
		return errors.New("authd: empty service secret")
	}
	if len(secret) > 72 {
		return errors.New("authd: a service secret has at most 72 bytes (bcrypt's limit)")
	}
	hash, err := bcrypt.GenerateFromPassword(secret, bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("authd: %w", err)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("authd: services file: %w", err)
	}
	if _, err := parseServices(old); err != nil {
		return fmt.Errorf("authd: services file %s: %w", path, err)
	}
	entry := name + ":" + string(hash)
	if len(options) > 0 {
		entry += ":" + strings.Join(options, ",")
	}
	var out []string
	replaced := false
	for _, line := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if n, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && n == name {
			out = append(out, entry)
			replaced = true
			continue
		}
		if line != "" || len(out) > 0 {
			out = append(out, line)
		}
	}
	if !replaced {
		out = append(out, entry)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("authd: services file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("authd: services file: %w", err)
	}
	return nil
}

// check returns the service that secret proves, or
// cred.ErrUnauthorizedLogin. An unknown name costs a bcrypt comparison
// too.
func (s *Services) check(ctx context.Context, name string, secret []byte) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	svc := s.byKey[name]
	s.mu.RUnlock()
	hash := s.dummy
	if svc != nil {
		hash = svc.Hash
	}
	if len(secret) > 72 {
		secret = secret[:0] // bcrypt refuses longer ones; never matches
	}
	ok := bcrypt.CompareHashAndPassword(hash, secret) == nil
	if !ok || svc == nil {
		return nil, cred.ErrUnauthorizedLogin
	}
	return svc, nil
}

// get returns the named service, or nil.
func (s *Services) get(name string) *Service {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byKey[name]
}

// Names lists the services.
func (s *Services) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byKey))
	for n := range s.byKey {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
