package signatures

import (
	"net/netip"
	"regexp"
)

// Signature kinds: what part of an observation an entry's pattern is
// compared with. The kind is also Evidence.Kind.
const (
	KindDNSName      = "dns-name"      // names asked in DNS, TLS SNI, HTTP Host
	KindTLSSNI       = "tls-sni"       // names in TLS SNI only
	KindTLSJA4       = "tls-ja4"       // JA4 of a ClientHello, exact
	KindTLSJA3       = "tls-ja3"       // JA3 MD5 of a ClientHello, exact
	KindTCPSyn       = "tcp-syn"       // TCP SYN shape, structured
	KindDHCP         = "dhcp"          // DHCPv4 option-55 list and option order, structured
	KindDHCPVendor   = "dhcp-vendor"   // DHCP vendor class (option 60), regexp
	KindDHCPHostname = "dhcp-hostname" // DHCP hostname (option 12) and mDNS host/instance names, regexp
	KindMDNSService  = "mdns-service"  // DNS-SD service type a host announces, exact
	KindMDNSModel    = "mdns-model"    // model identifier in mDNS TXT (model=, rpMd=, am=), exact or glob
	KindMDNSTXT      = "mdns-txt"      // any TXT string a host announces, regexp
	KindHTTPUA       = "http-ua"       // HTTP User-Agent, regexp
	KindAddressPort  = "address-port"  // flow destination, CIDR:port
)

var kinds = map[string]bool{
	KindDNSName: true, KindTLSSNI: true, KindTLSJA4: true, KindTLSJA3: true,
	KindTCPSyn: true, KindDHCP: true, KindDHCPVendor: true, KindDHCPHostname: true,
	KindMDNSService: true, KindMDNSModel: true, KindMDNSTXT: true, KindHTTPUA: true,
	KindAddressPort: true,
}

// Platforms an entry's weight speaks for. Every "apple*" platform counts
// for Apple; the others are counter-evidence.
const (
	PlatformAppleIOS       = "apple-ios"
	PlatformAppleIPadOS    = "apple-ipados"
	PlatformAppleMacOS     = "apple-macos"
	PlatformApple          = "apple" // Apple, OS not told (or watchOS, tvOS, audioOS)
	PlatformWindows        = "windows"
	PlatformAndroid        = "android"
	PlatformLinux          = "linux"
	PlatformChromeOS       = "chromeos"
	PlatformBrowserGeneric = "browser-generic" // a cross-platform client (Chrome, Firefox, curl): not an Apple system stack
)

var platforms = map[string]bool{
	PlatformAppleIOS: true, PlatformAppleIPadOS: true, PlatformAppleMacOS: true, PlatformApple: true,
	PlatformWindows: true, PlatformAndroid: true, PlatformLinux: true, PlatformChromeOS: true,
	PlatformBrowserGeneric: true,
}

// IsApple reports whether platform is one of Apple's.
func IsApple(platform string) bool {
	return platform == PlatformApple || platform == PlatformAppleIOS ||
		platform == PlatformAppleIPadOS || platform == PlatformAppleMacOS
}

// Entry is one signature as loaded. The exported fields are for listing
// (`orchard signatures list`); matching uses the compiled form.
type Entry struct {
	ID       string
	Kind     string
	Pattern  string // presentation form; structured patterns are rendered as "key=value ..."
	Platform string
	Weight   float64
	Source   string
	Note     string
	Product  string // mdns-model only: the product name
	File     string // data file name, e.g. "apple-dns.yaml"
	Line     int    // line of the entry in File
	Set      string // "file@version"

	re     *regexp.Regexp
	tcp    *TCPPattern
	dhcp   *DHCPPattern
	prefix netip.Prefix
	port   uint16 // 0: any port
}

// TCPPattern is the structured pattern of a tcp-syn entry. Zero or negative
// sentinels mean "any": ITTL 0, Window -1, WScale -2, MSS -1.
type TCPPattern struct {
	ITTL    uint8
	Window  int32
	WScale  int8 // -1: option absent; -2: any
	MSS     int32
	OLayout string   // p0f layout; a trailing "eol" also matches "eol+N"
	Quirks  []string // all must be present (p0f names: "ecn", "df", "id+", ...)
	JA4T    string   // if set, compared with TCPSyn.JA4T instead of the fields above
}

// DHCPPattern is the structured pattern of a dhcp entry (DHCPv4 client
// messages). Empty slices mean "any"; at least one of Params or Order is set.
type DHCPPattern struct {
	Params        []uint8  // option 55, exact list in order
	Order         []uint16 // option codes in the order sent, pad (0) and end (255) ignored
	NoVendorClass bool     // option 60 must be absent
	Messages      []string // message types; empty: any client message
}
