package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// plainHandler prints "orchard: message" lines: the message already names
// the file and packet, so the attributes are left out of the text form
// (they are in the JSON form).
type plainHandler struct {
	mu sync.Mutex
	w  io.Writer
}

func (h *plainHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *plainHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	prefix := "orchard: "
	if r.Level >= slog.LevelError {
		prefix = "orchard: error: "
	}
	_, err := fmt.Fprintf(h.w, "%s%s\n", prefix, r.Message)
	return err
}

func (h *plainHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *plainHandler) WithGroup(string) slog.Handler      { return h }
