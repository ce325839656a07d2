package live

import (
	"errors"
	"fmt"
	"os"
)

// Errors.
var (
	ErrNoInterface = errors.New("no such interface")
	ErrIdle        = errors.New("no packet within the poll interval")
	ErrBadConfig   = errors.New("bad live-capture config")
)

// OpenError says which step of opening a capture failed, and for a
// permission error, which capability was missing.
type OpenError struct {
	Interface string
	Op        string // "open AF_PACKET", "load the eBPF program", "attach the eBPF program"
	Need      string // "CAP_NET_RAW", ...; empty when not a permission error
	Err       error
}

func (e *OpenError) Error() string {
	if e.Need != "" {
		if e.Interface != "" {
			return fmt.Sprintf("need %s to %s on %s: %v", e.Need, e.Op, e.Interface, e.Err)
		}
		return fmt.Sprintf("need %s to %s: %v", e.Need, e.Op, e.Err)
	}
	if e.Interface != "" {
		return fmt.Sprintf("%s on %s: %v", e.Op, e.Interface, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// permission reports whether err is the kernel refusing for lack of a
// capability.
func permission(err error) bool {
	return errors.Is(err, os.ErrPermission)
}
