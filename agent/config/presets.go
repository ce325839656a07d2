package config

import "net/netip"

// presets are ready mail-server definitions a user enables with
// `mail: presets: [microsoft365]`. They are expanded after the user's own
// servers.
//
// Microsoft 365: Exchange Online endpoints from Microsoft's "Office 365 URLs
// and IP address ranges" (endpoint set 1, Exchange Online, "Optimize"
// category, plus the IMAP/POP/SMTP AUTH client endpoints of sets 8 and 9),
// as published in 2025. Microsoft changes these; check
// https://endpoints.office.com before relying on the address list.
//
// Google Workspace: Google publishes no mail-only address ranges (its front
// ends are shared), so the preset matches by name only: SNI or a DNS answer
// the host received. Note that personal Gmail uses the same endpoints.
var presets = map[string][]MailServer{
	"microsoft365": {{
		Name: "microsoft365-exchange-online",
		Names: []string{
			"outlook.office365.com", "outlook.office.com", "*.outlook.com",
			"smtp.office365.com", "outlook-sdf.office.com", "*.protection.outlook.com",
			"autodiscover-s.outlook.com", "*.outlook.office365.com",
		},
		Addresses: prefixes(
			"13.107.6.152/31", "13.107.18.10/31", "13.107.128.0/22",
			"23.103.160.0/20", "40.96.0.0/13", "40.104.0.0/15", "52.96.0.0/14",
			"131.253.33.215/32", "132.245.0.0/16", "150.171.32.0/22",
			"204.79.197.215/32",
			"2603:1006::/40", "2603:1016::/36", "2603:1026::/36",
			"2603:1036::/36", "2603:1046::/36", "2603:1056::/36",
			"2620:1ec:4::152/128", "2620:1ec:4::153/128",
			"2620:1ec:c::10/128", "2620:1ec:c::11/128",
			"2620:1ec:d::10/128", "2620:1ec:d::11/128",
			"2620:1ec:8f0::/46", "2620:1ec:900::/46",
			"2620:1ec:a92::152/128", "2620:1ec:a92::153/128",
		),
		Protocols: protocols("https", "imaps", "pop3s", "submission"),
	}},
	"google-workspace": {{
		Name: "google-workspace-gmail",
		Names: []string{
			"imap.gmail.com", "smtp.gmail.com", "pop.gmail.com", "mail.google.com",
			"inbox.google.com", "m.google.com", "gmail.googleapis.com",
		},
		Protocols: protocols("https", "imaps", "pop3s", "submission", "smtps"),
	}},
}

// Presets returns the names of the known presets.
func Presets() []string {
	s := make([]string, 0, len(presets))
	for k := range presets {
		s = append(s, k)
	}
	return s
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s) // constant data, checked by TestPresets
	}
	return out
}

func protocols(names ...string) []Protocol {
	out := make([]Protocol, len(names))
	for i, n := range names {
		out[i] = Protocol{Name: n, Port: ProtocolPorts[n]}
	}
	return out
}
