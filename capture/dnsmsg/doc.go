// Package dnsmsg turns one DNS or mDNS message (the payload of a UDP
// datagram, or one length-prefixed message out of a TCP stream) into an
// observe.DNSMessage.
//
// It owns the presentation of names and records that the rest of orchard
// matches on: question and owner names are lower-cased (ASCII only, as DNS
// compares names) and carry no final dot; names that are valid, printable
// UTF-8 are kept as UTF-8 (mDNS instance names such as "John’s iMac"), any
// other name keeps miekg/dns's escaping (\DDD for unprintable bytes, \. for a
// dot inside a label). Record types are miekg's names ("HTTPS", "TYPE65534").
// TXT strings follow the same rule (raw when printable UTF-8, miekg's
// escapes otherwise) but keep their case. For mDNS the unicast-response
// bit of question classes is removed; records carry no class here, so the
// cache-flush bit never shows.
//
// Decoding is done by github.com/miekg/dns and nothing else: DNS is never
// parsed by hand here. The package imports only miekg/dns, capture/observe
// and the standard library.
//
// Errors: ErrTruncated means the bytes end before a complete header or
// inside a record (a capture cut short, a missed TCP segment); ErrMalformed
// means miekg/dns rejected the message for another reason and wraps its
// error text. With either error Parse may still return the part of the
// message decoded before the fault (for example the questions), because a
// passive sensor would rather keep a question name than drop the message.
package dnsmsg
