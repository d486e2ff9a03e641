package django_test

import (
	"errors"
	"fmt"

	"github.com/gospread/spread/cred/django"
)

func ExampleMakePassword() {
	encoded := django.MakePassword([]byte("correct horse"))
	ok, err := django.Verify([]byte("correct horse"), encoded)
	fmt.Println(django.Identify(encoded), ok, err)
	// Output: pbkdf2_sha256 true <nil>
}

func ExampleVerify() {
	// Made by Django 3.2: make_password("bee", hasher=BCryptSHA256PasswordHasher with rounds=4)
	// and make_password("ancient", salt="a1976", hasher="sha1").
	for _, c := range []struct{ password, encoded string }{
		{"bee", "bcrypt_sha256$$2b$04$VcogrUwoCttmT6w0ImxoseAGxdYpUnNWn4kFZbiD/LFs2LNBrMjyC"},
		{"ancient", "sha1$a1976$99374e4cc8e821e037aaf0b67d86461d2e540cdf"},
		{"wrong", "sha1$a1976$99374e4cc8e821e037aaf0b67d86461d2e540cdf"},
		{"unix", "crypt$$eI25.B3e/cdG."},
	} {
		ok, err := django.Verify([]byte(c.password), c.encoded)
		fmt.Println(django.Identify(c.encoded), ok, errors.Is(err, django.ErrUnsupported))
	}
	// Output:
	// bcrypt_sha256 true false
	// sha1 true false
	// sha1 false false
	// crypt false true
}
