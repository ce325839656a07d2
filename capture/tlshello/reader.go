package tlshello

// reader reads big-endian fields off the front of a byte slice, as
// cryptobyte.String does, with the same results, except that a read that
// does not fit consumes nothing (cryptobyte consumes a length prefix it
// could read before finding the field short). It exists for the ClientHello hot
// path: cryptobyte's length-prefixed reads do not inline (they go through
// readLengthPrefixed and readUnsigned), and on a handshake-heavy capture
// they were a third of Unmarshal. These do.
type reader []byte

func (s *reader) empty() bool { return len(*s) == 0 }

func (s *reader) u8(v *uint8) bool {
	if len(*s) < 1 {
		return false
	}
	*v = (*s)[0]
	*s = (*s)[1:]
	return true
}

func (s *reader) u16(v *uint16) bool {
	if len(*s) < 2 {
		return false
	}
	*v = uint16((*s)[0])<<8 | uint16((*s)[1])
	*s = (*s)[2:]
	return true
}

// bytes reads the next n bytes into out (aliasing s).
func (s *reader) bytes(out *[]byte, n int) bool {
	if len(*s) < n {
		return false
	}
	*out = (*s)[:n:n]
	*s = (*s)[n:]
	return true
}

// prefixed8 reads a field with a one-byte length into out.
func (s *reader) prefixed8(out *reader) bool {
	if len(*s) < 1 {
		return false
	}
	n := int((*s)[0])
	if len(*s)-1 < n {
		return false
	}
	*out = (*s)[1 : 1+n : 1+n]
	*s = (*s)[1+n:]
	return true
}

// prefixed16 reads a field with a two-byte length into out.
func (s *reader) prefixed16(out *reader) bool {
	if len(*s) < 2 {
		return false
	}
	n := int((*s)[0])<<8 | int((*s)[1])
	if len(*s)-2 < n {
		return false
	}
	*out = (*s)[2 : 2+n : 2+n]
	*s = (*s)[2+n:]
	return true
}
