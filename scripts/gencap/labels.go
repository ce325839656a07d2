package gencap

import "time"

// Platforms as labels name them (the same words orchard's verdicts use).
const (
	PlatformIOS     = "apple-ios"
	PlatformIPadOS  = "apple-ipados"
	PlatformMacOS   = "apple-macos"
	PlatformWindows = "windows"
	PlatformAndroid = "android"
	PlatformLinux   = "linux"
)

// Mail protocols as labels name them (orchard's config protocol names).
const (
	MailIMAPS      = "imaps"      // TCP 993, TLS from the first byte
	MailIMAP       = "imap"       // TCP 143 with STARTTLS
	MailSubmission = "submission" // TCP 587 with STARTTLS
	MailHTTPS      = "https"      // ActiveSync/EWS over 443
)

// Labels is the ground truth of one generated capture.
type Labels struct {
	Capture   string      `json:"capture"`
	Seed      uint64      `json:"seed"`
	Start     time.Time   `json:"start"`
	End       time.Time   `json:"end"`
	Packets   int         `json:"packets"`
	Gateway   string      `json:"gateway"`
	Resolver  string      `json:"resolver"`
	Mail      MailLabel   `json:"mail"`
	Hosts     []HostLabel `json:"hosts"`
	Allowlist []string    `json:"allowlist_macs,omitempty"`
}

// MailLabel names the work-mail endpoints the capture uses.
type MailLabel struct {
	Name          string   `json:"name"`
	Address       string   `json:"address"`
	ActiveSync    string   `json:"activesync_name"`
	ActiveSyncIPs []string `json:"activesync_addresses"`
}

// HostLabel is what one device really is and did.
type HostLabel struct {
	ID            string      `json:"id"`
	Hostname      string      `json:"hostname,omitempty"`
	MAC           string      `json:"mac"`
	PrivateMAC    bool        `json:"private_mac"`
	IPs           []AddrLabel `json:"ips"`
	Platform      string      `json:"platform"`
	Apple         bool        `json:"apple"`
	Model         string      `json:"model,omitempty"`
	ReadsMail     bool        `json:"reads_mail"`
	MailProtocols []string    `json:"mail_protocols,omitempty"`
	MailServers   []string    `json:"mail_servers,omitempty"`
	PrivateRelay  bool        `json:"private_relay,omitempty"`
	ICloudWindows bool        `json:"icloud_for_windows,omitempty"`
	BrowsesApple  bool        `json:"browses_apple_com,omitempty"`
	OnlyBrowses   bool        `json:"only_browses,omitempty"`
	Allowlisted   bool        `json:"allowlisted,omitempty"`
	Note          string      `json:"note,omitempty"`
	FirstSeen     time.Time   `json:"first_seen"`
	LastSeen      time.Time   `json:"last_seen"`
}

// AddrLabel is one address a host held and when.
type AddrLabel struct {
	IP     string    `json:"ip"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Source string    `json:"source"` // dhcp or slaac
}

// Host returns the label with the given MAC, or nil.
func (l *Labels) Host(mac string) *HostLabel {
	for i := range l.Hosts {
		if l.Hosts[i].MAC == mac {
			return &l.Hosts[i]
		}
	}
	return nil
}
