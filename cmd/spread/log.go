package main

import (
	"io"
	"log/slog"
)

// serverLogger is the log of long-running commands: slog's text format
// on stderr, from level Info.
func serverLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// quietLogger logs warnings and errors of client commands to stderr.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
