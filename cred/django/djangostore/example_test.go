package djangostore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gospread/spread/cred"
	"github.com/gospread/spread/cred/django/djangostore"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	// A Django project's database works as it is; a new file gets the
	// auth_user table Django would create.
	store, err := djangostore.Open(ctx, "sqlite:"+filepath.Join(dir, "db.sqlite3"), &djangostore.Config{Rehash: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.EnsureSchema(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.AddUser(ctx, "alice", []byte("s3cret")); err != nil {
		log.Fatal(err)
	}

	portal := cred.NewPortal(cred.RealmFunc(func(ctx context.Context, id string, mind any) (any, func(), error) {
		return "avatar of " + id, nil, nil
	}), store)
	_, avatar, _, err := portal.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("s3cret")}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(avatar)
	_, _, _, err = portal.Login(ctx, &cred.UsernamePassword{Username: "alice", Password: []byte("guess")}, nil)
	fmt.Println(errors.Is(err, cred.ErrUnauthorizedLogin))
	// Output:
	// avatar of alice
	// true
}

func ExampleStore_Flush() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := djangostore.Open(ctx, "sqlite:"+filepath.Join(dir, "db.sqlite3"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.EnsureSchema(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.AddUser(ctx, "bob", []byte("pw")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.Check(ctx, "bob", []byte("pw")))
	// Check answered before writing last_login; Flush waits for it.
	fmt.Println(store.Flush(ctx))
	users, _ := store.ListUsers(ctx)
	fmt.Println(users[0].Username, users[0].LastLogin != nil)
	// Output:
	// <nil>
	// <nil>
	// bob true
}
