// Package dhcp decodes DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415)
// messages, the UDP payloads on ports 67/68 and 546/547, into
// observe.DHCP: what a client says about itself (MAC, client id, host
// name, vendor class, the options it asks for and the order it sends its
// own) and what a server assigns (address, lease, server id).
//
// Both parsers are written by hand over the byte slice, checking every
// length before reading; they allocate only the result and the copies of
// byte strings it keeps. The package imports only capture/observe and the
// standard library.
//
// Parsing is lenient, as a passive sensor's should be: oddities are
// recorded in DHCP.Oddities rather than rejected ("no-end-option",
// "hostname-trailing-nul", "duplicate-option-N", "bad-length-option-N",
// "option-overload", "data-after-end", "relayed").
//
// Errors: ErrTruncated means the fixed header is incomplete; ErrNotDHCP
// means a DHCPv4 message lacks the magic cookie (plain BOOTP or another
// protocol) or a DHCPv6 message type is zero; ErrMalformed means an option
// runs past the end of the message, and the error is an *OptionError
// naming the option code and its offset. With ErrMalformed the returned
// *observe.DHCP is not nil: it holds everything decoded before the bad
// option.
package dhcp
