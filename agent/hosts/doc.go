// Package hosts owns host identity over time: which device an observation is
// about. A device on the sensor's segment is keyed by its MAC; a device seen
// only through a router (or in a capture without link-layer headers) is keyed
// by its IP address. IP-to-MAC bindings are learnt from DHCP ACKs, ARP, NDP
// and link-layer headers, each valid for an interval, so an address that a
// second device takes over later is not confused with its earlier owner.
// Router and gateway MACs are learnt (the DHCP server, IPv6 router
// advertisements, a MAC that sends from many addresses) and never key a host.
// Locally administered ("private") MACs are flagged, and linked to an earlier
// device when the DHCP client identifier or a specific hostname shows it is
// the same one.
//
// The table is bounded: a maximum number of hosts with least-recently-seen
// eviction, idle expiry, and counters for both. Keys are small comparable
// structs. The package imports capture/observe only; it has no errors: bad
// or odd input is ignored and counted.
package hosts
