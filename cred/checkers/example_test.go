package checkers_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/crypto/bcrypt"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/checkers"
)

// realm hands out a greeting string as the avatar.
var realm = cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
	if id == cred.AnonymousID {
		return "hello, guest", nil, nil
	}
	return "hello, " + id, nil, nil
})

func ExampleInMemory() {
	portal := cred.NewPortal(realm,
		checkers.NewInMemory(map[string]string{"alice": "wonderland"}),
		checkers.NewAnonymous(),
	)
	ctx := context.Background()

	// A plain password (Spread's password login).
	_, avatar, _, err := portal.Login(ctx,
		&cred.UsernamePassword{Username: "alice", Password: []byte("wonderland")}, nil)
	fmt.Println(avatar, err)

	// Perspective Broker's challenge login, as a Twisted client performs it.
	challenge := []byte("server-chosen-random-bytes")
	_, avatar, _, err = portal.Login(ctx, &cred.UsernameChallenge{
		Username:  "alice",
		Challenge: challenge,
		Response:  cred.ChallengeResponse([]byte("wonderland"), challenge),
	}, nil)
	fmt.Println(avatar, err)

	// Anonymous.
	_, avatar, _, err = portal.Login(ctx, cred.Anonymous{}, nil)
	fmt.Println(avatar, err)

	// Unknown users and wrong passwords get the same answer.
	_, _, _, err1 := portal.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("x")}, nil)
	_, _, _, err2 := portal.Login(ctx, &cred.UsernamePassword{Username: "mallory", Password: []byte("x")}, nil)
	fmt.Println(err1, errors.Is(err2, cred.ErrUnauthorizedLogin))
	// Output:
	// hello, alice <nil>
	// hello, alice <nil>
	// hello, guest <nil>
	// cred: unauthorized login true
}

func ExampleFileDB() {
	dir, err := os.MkdirTemp("", "filedb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "passwd")
	// Twisted's FilePasswordDB format.
	if err := os.WriteFile(path, []byte("alice:wonderland\nbob:builder\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	db, err := checkers.NewFileDB(path, &checkers.FileDBConfig{CaseInsensitive: true})
	if err != nil {
		log.Fatal(err)
	}
	portal := cred.NewPortal(realm, db)
	fmt.Println(portal.Kinds())

	id, _, _, err := portal.Login(context.Background(),
		&cred.UsernamePassword{Username: "Bob", Password: []byte("builder")}, nil)
	fmt.Println(id, err)
	// Output:
	// [password challenge]
	// bob <nil>
}

func ExampleHtpasswd() {
	dir, err := os.MkdirTemp("", "htpasswd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "htpasswd")
	// The same format as "htpasswd -B -c path alice" writes.
	hash, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		log.Fatal(err)
	}
	content := "alice:" + string(hash) + "\n" +
		"old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		log.Fatal(err)
	}

	ht, err := checkers.NewHtpasswd(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("never match:", ht.Unsupported())

	portal := cred.NewPortal(realm, ht)
	ctx := context.Background()
	id, _, _, err := portal.Login(ctx,
		&cred.UsernamePassword{Username: "alice", Password: []byte("wonderland")}, nil)
	fmt.Println(id, err)

	_, _, _, err = portal.Login(ctx,
		&cred.UsernamePassword{Username: "old", Password: []byte("password")}, nil)
	fmt.Println(errors.Is(err, cred.ErrUnauthorizedLogin), errors.Is(err, checkers.ErrUnsupportedHash))

	// bcrypt cannot check Perspective Broker's MD5 challenge.
	fmt.Println(portal.Accepts(cred.KindChallenge))
	// Output:
	// never match: [old]
	// alice <nil>
	// true true
	// false
}

func ExampleAnonymous() {
	portal := cred.NewPortal(realm, checkers.NewAnonymous())
	id, avatar, _, err := portal.Login(context.Background(), cred.Anonymous{}, nil)
	fmt.Printf("%q %v %v\n", id, avatar, err)
	// Output:
	// "" hello, guest <nil>
}
