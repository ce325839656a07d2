package main

// Help texts, one per subcommand, written like man pages: what it does,
// synopsis, options, output, exit status, examples.

const mainHelp = `orchard - see Apple devices that reach work mail, from the wire

USAGE
    orchard COMMAND [OPTIONS] [ARGS]

COMMANDS
    analyze     read pcap/pcapng files, print observations, host verdicts
                and alerts as JSON lines (ECS field names)
    run         capture live on the gateway (AF_PACKET or eBPF) and alert
    signatures  list or check the Apple signature files
    config      check a configuration file
    version     print the version and the signature set versions
    help        show help for a command: orchard help analyze

orchard watches traffic passively. It fingerprints Apple devices (iPhone,
iPad, Mac) from DNS names, TLS and QUIC ClientHellos (SNI, ALPN, JA3, JA4),
TCP SYN shape, DHCP, mDNS and HTTP User-Agents, notices which hosts reach
the configured work-mail servers (IMAP, POP3, SMTP submission,
ActiveSync/EWS/OWA), and raises one explainable alert per Apple device and
mail server. It never decrypts and never stores message content.

Run "orchard help COMMAND" or "orchard COMMAND -h" for a command's manual.
`

const analyzeHelp = `NAME
    orchard analyze - analyse capture files offline

SYNOPSIS
    orchard analyze [-c FILE] [--events] [--hosts] [--summary]
                    [--signatures DIR] [--progress WHEN] [--quiet] FILE...

DESCRIPTION
    Reads each FILE (pcap or pcapng, detected from its magic number; "-"
    reads standard input) in order, as one continuous capture, and prints
    JSON lines on standard output: one line per alert always; with --events
    one line per observation; with --hosts one state line per host at the
    end. Link types: Ethernet (with 802.1Q/QinQ VLANs), Linux cooked SLL and
    SLL2, raw IP, BSD loopback/null; tunnels GRE, ERSPAN II, VXLAN, Geneve.

    Field names follow the Elastic Common Schema where it has one
    (@timestamp, event.kind, event.dataset, source.ip, destination.port,
    network.community_id, tls.client.ja3, tls.client.ja4, dns.question.name,
    host.mac, rule.id, ...); the rest live under orchard.* .

    Event datasets (with --events):
      orchard.tls   TLS ClientHello over TCP or QUIC: tls.client.server_name,
                    tls.client.ja3 (MD5), tls.client.ja4, orchard.tls.ja3_string,
                    orchard.tls.ja4_r, orchard.tls.alpn, orchard.tls.prologue
                    (smtp-starttls, imap-starttls, pop3-stls, http-connect,
                    socks4, socks5), orchard.quic.* for QUIC
      orchard.dns   DNS query or answer: dns.type, dns.question.name,
                    dns.question.type, dns.answers, dns.resolved_ip
      orchard.mdns  multicast DNS, as orchard.dns plus orchard.mdns.txt
      orchard.tcp   TCP SYN fingerprint: orchard.tcp.fingerprint (p0f-like
                    ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass)
      orchard.dhcp  DHCPv4/v6: hostname, vendor class, option-55 list, order
      orchard.arp   ARP and NDP address-to-MAC bindings
      orchard.http  plain HTTP/1.x request: method, host, User-Agent
      orchard.flow  flow start and end with packet and byte counts, for flows
                    to mail servers and signature addresses (all flows with
                    --all-flows)
      orchard.mail  access to a configured work-mail server
    Every event carries orchard.file and orchard.packet (1-based number, in
    its file, of the packet that completed the message).

    Alerts (event.kind alert, rule.id orchard.apple-device-work-mail) are
    raised when a host whose Apple verdict reaches the configured threshold
    reaches a configured mail server within the correlation window, in
    either order; one per device and mail server per suppression window.

OPTIONS
    -c, --config FILE   configuration (YAML); default: the embedded sample
                        configuration (mail server mail.corp.example)
    --events            print one line per observation
    --hosts             print one orchard.host state line per host at the end
    --summary           print a table of alerts (device, OS, model, mail
                        server, protocol, evidence, confidence) after the JSON
    --signatures DIR    signature files overriding the embedded ones
    --all-flows         report every flow's start and end, not only flows to
                        mail servers and signature addresses (slower)
    --progress WHEN     auto (default: when stderr is a terminal and the input
                        is larger than 32 MB), always or never
    -q, --quiet         no summary on standard error
    --log-format F      text (default) or json, for messages on stderr

STANDARD ERROR
    Problems name the file and packet: "office.pcap: packet 812: malformed-tls:
    ...". At most 10 messages per reason are printed; all are counted. At the
    end a summary gives packets, bytes, elapsed time, packets per second,
    observations by kind, and skips by reason.

ENVIRONMENT
    GOMAXPROCS  cores used (analysis is one pipeline: one core does the work)
    GOGC        garbage-collector target; orchard analyze uses 300 when unset
                (it makes little garbage: peak memory stays flat as captures
                grow, and collections stay rare)
    GOMEMLIMIT  soft memory limit; when neither it nor GOGC is set, orchard
                analyze uses 192MiB, so that a flood of new sources (evicted
                hosts are garbage) stays near it: a million sources peak at
                about 200 MB. Above it the collector runs more often; it is
                not a hard cap

EXIT STATUS
    0   every file was read (skipped packets are counted, not fatal; a file
        truncated mid-packet is reported and what came before it is used)
    1   at least one file could not be read at all (missing, not a capture,
        unsupported link type); the other files were still analysed
    2   bad usage, configuration or signature files

EXAMPLES
    orchard analyze --events office.pcap | jq 'select(.event.dataset=="orchard.tls")'
    tcpdump -i eth1 -w - | orchard analyze -c /etc/orchard/orchard.yaml -
    orchard analyze -c orchard.yaml --hosts --summary monday.pcapng tuesday.pcapng
`

const signaturesHelp = `NAME
    orchard signatures - list or check signature files

SYNOPSIS
    orchard signatures list [--dir DIR] [--kind KIND] [--platform P]
    orchard signatures check [DIR]

DESCRIPTION
    orchard's knowledge of what Apple (and, as counter-evidence, Windows,
    Android, Linux and ChromeOS) looks like on the wire is data: YAML files
    embedded in the binary, each with a version that appears in every
    verdict. A directory of files overrides the embedded files of the same
    name and adds new ones.

    list    prints every entry: id, kind, platform, weight, pattern, file.
    check   loads the embedded set merged with DIR (if given) and reports
            errors as FILE:LINE: entry "ID": FIELD: problem.

EXIT STATUS
    0 valid; 2 errors found (all are printed).
`

const configHelp = `NAME
    orchard config - check a configuration file

SYNOPSIS
    orchard config check FILE
    orchard config show [FILE]

DESCRIPTION
    check   parses and validates FILE; errors name the line and field, e.g.
            "orchard.yaml:12: mail.servers[0].addresses[1]: not an address
            or CIDR". Prints "FILE: ok" and the mail servers it understood.
    show    prints the effective configuration (presets expanded, defaults
            filled in) of FILE, or of the embedded default.

    See agent/config/orchard.example.yaml for every key, documented.

EXIT STATUS
    0 valid; 2 invalid.
`

const runHelp = `NAME
    orchard run - capture live on a gateway and raise alerts

SYNOPSIS
    orchard run -c FILE [--signatures DIR] [--log-format text|json]

DESCRIPTION
    Captures on the interfaces named in the configuration (capture.interfaces)
    with the mode capture.mode:
      ebpf      a TC program (tcx on kernels >= 6.6, clsact otherwise) passes
                to user space only DNS, DHCP, ARP/NDP, TCP SYNs, each TCP
                flow's first flight until its ClientHello is complete, QUIC
                Initials, and the starts, ends and samples of mail flows,
                through a ring buffer; it counts the packets and bytes of
                every TCP flow in a kernel map, so bulk traffic never leaves
                the kernel
      afpacket  TPACKET_V3 rings in a fanout group of capture.workers sockets
                (one decoder each), frames sized for 64 KiB GSO/GRO frames
      auto      eBPF where the kernel supports it, AF_PACKET otherwise; the
                first log line says which and why
    The same pipeline as orchard analyze runs behind both: the same traffic
    gives the same observations and alerts.

    Alerts go to standard output and to outputs.file (JSON lines, rotated at
    outputs.max_size, outputs.keep files kept). Prometheus metrics are served
    on metrics.listen at /metrics, and /healthz answers ok.

OPTIONS
    -c, --config FILE   configuration (required); see orchard help config
    --signatures DIR    signature files overriding the embedded ones
    --log-format F      text (default) or json

PRIVILEGES
    Needs CAP_NET_RAW (AF_PACKET), CAP_NET_ADMIN (attaching the TC program),
    CAP_BPF and CAP_PERFMON (loading eBPF, reading its maps); no other.
    deploy/orchard.service runs it as an unprivileged user with exactly
    these. Without one, orchard run exits with a message naming it and the
    interface, e.g. "need CAP_NET_RAW to open AF_PACKET on eth1".

SIGNALS
    SIGHUP   reload configuration and signatures without stopping capture (a
             config that does not validate is refused; the running one stays)
    SIGTERM  flush open flows and pending alerts, then exit 0

EXIT STATUS
    0 stopped by SIGTERM/SIGINT; 1 capture could not start (missing
    capability or interface); 2 bad usage or configuration.
`
