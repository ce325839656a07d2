// Package signatures holds what Apple devices (and, as counter-evidence,
// Windows, Android, Linux, ChromeOS and cross-platform clients) look like on
// the wire, as YAML data files embedded in the binary and overridable from a
// directory, and turns one observation into weighted Evidence.
//
// It owns the data files (data/*.yaml), their loader and the matcher. It
// imports only capture/observe (plus go.yaml.in/yaml/v3 and the standard
// library); nothing here imports agent/.
//
// # Data files
//
// Each file is a mapping with a version string and a list of entries:
//
//	version: "2026.11.27-1"
//	entries:
//	  - id: apple.dns.push-courier        # unique across all files
//	    kind: dns-name                    # what the pattern is compared with
//	    pattern: "*-courier.push.apple.com"
//	    platform: apple                   # apple-ios, apple-ipados, apple-macos, apple, windows, android, linux, chromeos, browser-generic
//	    weight: 2.5                       # natural-log likelihood ratio for platform, -10..10
//	    source: "where the fact comes from"
//	    note: "optional remark"           # optional
//	    product: "iPhone 13 Pro"          # mdns-model only
//
// Kinds and their patterns: dns-name and tls-sni (DNS names; "*" matches one
// or more characters within a label, a leading "**." one or more labels),
// tls-ja4 and tls-ja3 (exact), tcp-syn (mapping: ittl, window, wscale, mss,
// olayout, quirks; or ja4t), dhcp (mapping: params, order, no-vendor-class,
// messages), dhcp-vendor, dhcp-hostname, mdns-txt and http-ua (Go regular
// expressions), mdns-service (a DNS-SD service type), mdns-model (a model
// identifier, or a family glob such as "iPhone*"), address-port ("CIDR:port",
// port "*" for any). README.md in this folder is the user documentation.
//
// # Matching
//
// Set.Match looks at an observation from the sending host's point of view:
// DNS questions it asks (in queries, and in the responses it receives), the
// SNI, JA4 and JA3 of its ClientHellos, its TCP SYN shape, its DHCP client
// messages, the mDNS records it announces, its HTTP Host and User-Agent,
// and the destinations of its flows. Names are found through an exact map
// and a suffix index, never a scan; a miss allocates nothing. Each signature
// contributes at most once per observation; for one observed value the most
// specific name pattern wins, and for tcp-syn, dhcp and regular-expression
// kinds the first entry in file order wins.
//
// # Errors
//
// Loading returns errors wrapping ErrInvalid: one *LoadError per problem,
// joined, each naming the file, line, column, entry id and field, e.g.
//
//	apple-dns.yaml:42:13: entry "apple.dns.x": weight: must be a number between -10 and 10
//
// A Set is returned only when every file is valid. Match never fails.
package signatures
