//! Which destinations an upstream request may reach.
//!
//! Two pure checks the client runs before any packet leaves: [`is_forbidden`] classifies an IP
//! address (including IPv4 addresses embedded in IPv6 forms), and [`host_forbidden`] refuses a URL
//! host that names a cloud metadata service or is an IP literal in one of the encodings libc's
//! `inet_aton` accepts (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`), which a resolver would
//! otherwise turn into a loopback address behind our back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address or host is not a permitted upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForbiddenReason {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `0.0.0.0/8` ("this network"; Linux connects it to the local host), `::`.
    Unspecified,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata endpoint (`169.254.169.254`, `fd00:ec2::254`, ...).
    CloudMetadata,
    /// A cloud instance metadata host name (`metadata.google.internal`, ...).
    MetadataHostname,
    /// Carrier-grade NAT shared address space `100.64.0.0/10`.
    SharedAddressSpace,
    /// IETF protocol assignments `192.0.0.0/24`.
    ProtocolAssignment,
    /// Documentation ranges: TEST-NET-1/2/3, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Benchmarking ranges `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// Limited broadcast `255.255.255.255`.
    Broadcast,
    /// Reserved or not globally routable: `240.0.0.0/4`, IPv6 outside `2000::/3`, ORCHID, ...
    Reserved,
    /// IPv6 unique local `fc00::/7`.
    UniqueLocal,
    /// Deprecated IPv6 site-local `fec0::/10`.
    SiteLocal,
    /// Teredo tunnelling `2001::/32` (embeds addresses we cannot vouch for).
    Teredo,
}

impl ForbiddenReason {
    /// A stable machine-readable code, for API error bodies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Unspecified => "unspecified",
            Self::Private => "private",
            Self::LinkLocal => "link_local",
            Self::CloudMetadata => "cloud_metadata",
            Self::MetadataHostname => "metadata_hostname",
            Self::SharedAddressSpace => "shared_address_space",
            Self::ProtocolAssignment => "protocol_assignment",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
            Self::Teredo => "teredo",
        }
    }

    /// True for destinations refused even when the operator allows private upstreams: a
    /// metadata service is never a model provider, and reaching it leaks cloud credentials.
    pub fn is_always_refused(self) -> bool {
        matches!(self, Self::CloudMetadata | Self::MetadataHostname)
    }
}

impl fmt::Display for ForbiddenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "loopback address",
            Self::Unspecified => "unspecified (this-network) address",
            Self::Private => "private network address",
            Self::LinkLocal => "link-local address",
            Self::CloudMetadata => "cloud metadata endpoint",
            Self::MetadataHostname => "cloud metadata host name",
            Self::SharedAddressSpace => "carrier-grade NAT shared address",
            Self::ProtocolAssignment => "IETF protocol assignment address",
            Self::Documentation => "documentation address",
            Self::Benchmarking => "benchmarking address",
            Self::Multicast => "multicast address",
            Self::Broadcast => "broadcast address",
            Self::Reserved => "reserved address",
            Self::UniqueLocal => "unique local address",
            Self::SiteLocal => "site-local address",
            Self::Teredo => "Teredo tunnel address",
        })
    }
}

/// Cloud metadata services on addresses that fall in ranges the operator may otherwise allow.
const METADATA_V4: [Ipv4Addr; 3] = [
    // AWS, GCP, Azure, OpenStack, DigitalOcean, ...
    Ipv4Addr::new(169, 254, 169, 254),
    // AWS ECS task metadata.
    Ipv4Addr::new(169, 254, 170, 2),
    // Alibaba Cloud.
    Ipv4Addr::new(100, 100, 100, 200),
];

/// AWS instance metadata over IPv6.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Metadata host names, compared case-insensitively without a trailing dot.
const METADATA_HOSTNAMES: [&str; 5] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// First match wins, so narrower ranges come before the ranges that contain them.
const V4_RANGES: [(Ipv4Addr, u8, ForbiddenReason); 17] = {
    use ForbiddenReason::*;
    [
        (Ipv4Addr::new(0, 0, 0, 0), 8, Unspecified),
        (Ipv4Addr::new(10, 0, 0, 0), 8, Private),
        (Ipv4Addr::new(100, 64, 0, 0), 10, SharedAddressSpace),
        (Ipv4Addr::new(127, 0, 0, 0), 8, Loopback),
        (Ipv4Addr::new(169, 254, 0, 0), 16, LinkLocal),
        (Ipv4Addr::new(172, 16, 0, 0), 12, Private),
        (Ipv4Addr::new(192, 0, 0, 0), 24, ProtocolAssignment),
        (Ipv4Addr::new(192, 0, 2, 0), 24, Documentation),
        // Deprecated 6to4 relay anycast.
        (Ipv4Addr::new(192, 88, 99, 0), 24, Reserved),
        (Ipv4Addr::new(192, 168, 0, 0), 16, Private),
        (Ipv4Addr::new(198, 18, 0, 0), 15, Benchmarking),
        (Ipv4Addr::new(198, 51, 100, 0), 24, Documentation),
        (Ipv4Addr::new(203, 0, 113, 0), 24, Documentation),
        // AS112 / RFC 7534 direct delegation: answers for private reverse zones only.
        (Ipv4Addr::new(192, 31, 196, 0), 24, Reserved),
        (Ipv4Addr::new(224, 0, 0, 0), 4, Multicast),
        (Ipv4Addr::new(255, 255, 255, 255), 32, Broadcast),
        (Ipv4Addr::new(240, 0, 0, 0), 4, Reserved),
    ]
};

/// First match wins. Forms that embed an IPv4 address are handled before this table.
const V6_RANGES: [(Ipv6Addr, u8, ForbiddenReason); 14] = {
    use ForbiddenReason::*;
    [
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, UniqueLocal),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, LinkLocal),
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, SiteLocal),
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, Multicast),
        (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, Teredo),
        (
            Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0),
            32,
            Documentation,
        ),
        (
            Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
            20,
            Documentation,
        ),
        (
            Ipv6Addr::new(0x2001, 0x0002, 0, 0, 0, 0, 0, 0),
            48,
            Benchmarking,
        ),
        // ORCHID and ORCHIDv2: identifiers, not locators.
        (
            Ipv6Addr::new(0x2001, 0x0010, 0, 0, 0, 0, 0, 0),
            28,
            Reserved,
        ),
        (
            Ipv6Addr::new(0x2001, 0x0020, 0, 0, 0, 0, 0, 0),
            28,
            Reserved,
        ),
        // Local-use NAT64 prefix (RFC 8215): translates into the operator's own network.
        (
            Ipv6Addr::new(0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0),
            48,
            Private,
        ),
        // Discard-only prefix.
        (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64, Reserved),
        // SRv6 segment identifiers.
        (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, Reserved),
        // Everything outside global unicast 2000::/3 is not a public destination; this entry
        // is matched inverted (see `v6_reason`).
        (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3, Reserved),
    ]
};

/// Classifies `ip`: `Some(reason)` when it is not a public, globally routable unicast address.
pub fn is_forbidden(ip: IpAddr) -> Option<ForbiddenReason> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<ForbiddenReason> {
    if METADATA_V4.contains(&ip) {
        return Some(ForbiddenReason::CloudMetadata);
    }
    let bits = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| prefix_matches_v4(bits, u32::from(*net), *len))
        .map(|(_, _, reason)| *reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<ForbiddenReason> {
    if ip.is_unspecified() {
        return Some(ForbiddenReason::Unspecified);
    }
    if ip.is_loopback() {
        return Some(ForbiddenReason::Loopback);
    }
    if ip == METADATA_V6 {
        return Some(ForbiddenReason::CloudMetadata);
    }
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from(bits as u32);
    // IPv4-mapped ::ffff:a.b.c.d: the socket layer connects to the IPv4 address itself.
    if bits >> 32 == 0xffff {
        return v4_reason(low_v4);
    }
    // IPv4-compatible ::a.b.c.d is deprecated and unroutable even when the embedded address
    // is public, but report the embedded address's reason when it has one.
    if bits >> 32 == 0 {
        return Some(v4_reason(low_v4).unwrap_or(ForbiddenReason::Reserved));
    }
    // NAT64 well-known prefix 64:ff9b::/96: the translator forwards to the embedded address.
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return v4_reason(low_v4);
    }
    // 6to4 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
    if bits >> 112 == 0x2002 {
        return v4_reason(Ipv4Addr::from((bits >> 80) as u32));
    }
    let (last, ranges) = V6_RANGES.split_last()?;
    if let Some((_, _, reason)) = ranges
        .iter()
        .find(|(net, len, _)| prefix_matches_v6(bits, u128::from(*net), *len))
    {
        return Some(*reason);
    }
    let (global, len, reason) = last;
    (!prefix_matches_v6(bits, u128::from(*global), *len)).then_some(*reason)
}

fn prefix_matches_v4(addr: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

fn prefix_matches_v6(addr: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

/// Checks a URL host before any DNS lookup.
///
/// Returns `Some(reason)` when `host` names a cloud metadata service, or is an IP literal
/// (bracketed or bare IPv6, or IPv4 in any `inet_aton` encoding) whose address is forbidden.
/// `None` means "not refused by name": an ordinary host name must still have every resolved
/// address checked with [`is_forbidden`].
pub fn host_forbidden(host: &str) -> Option<ForbiddenReason> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if METADATA_HOSTNAMES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
    {
        return Some(ForbiddenReason::MetadataHostname);
    }
    parse_ip_literal(host).and_then(is_forbidden)
}

/// Parses `host` as an IP literal the way the network stack would: `[v6]`, bare IPv6, or IPv4
/// in any form libc's `inet_aton` accepts (one to four parts, each decimal, octal with a leading
/// `0`, or hex with `0x`; the last part fills the remaining bytes). One trailing dot is ignored,
/// as URL parsers and resolvers do.
pub fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    parse_inet_aton(host.strip_suffix('.').unwrap_or(host)).map(IpAddr::V4)
}

fn parse_inet_aton(host: &str) -> Option<Ipv4Addr> {
    let mut parts = [0u32; 4];
    let mut count = 0;
    for part in host.split('.') {
        let slot = parts.get_mut(count)?;
        *slot = parse_aton_part(part)?;
        count += 1;
    }
    let (leading, last) = parts[..count].split_at(count - 1);
    if leading.iter().any(|byte| *byte > 0xff) {
        return None;
    }
    // The last part covers the bytes the leading parts did not: 32 bits for `a`, 24 for
    // `a.b`, 16 for `a.b.c`, 8 for `a.b.c.d`.
    let last_bits = 8 * (5 - count as u32);
    let last = last[0];
    if last_bits < 32 && last >> last_bits != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, byte)| acc | byte << (24 - 8 * i as u32));
    Some(Ipv4Addr::from(high | last))
}

fn parse_aton_part(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            // `0x` alone is zero to inet_aton and to WHATWG URL parsers alike.
            if hex.is_empty() {
                return Some(0);
            }
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForbiddenReason::*;

    fn reason(ip: &str) -> Option<ForbiddenReason> {
        is_forbidden(ip.parse().unwrap())
    }

    #[test]
    fn classifies_every_forbidden_ipv4_range() {
        let table = [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("169.254.0.1", LinkLocal),
            ("169.254.169.254", CloudMetadata),
            ("169.254.170.2", CloudMetadata),
            ("100.100.100.200", CloudMetadata),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("192.0.0.1", ProtocolAssignment),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("192.88.99.1", Reserved),
            ("255.255.255.255", Broadcast),
        ];
        for (ip, expected) in table {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn classifies_every_forbidden_ipv6_range() {
        let table = [
            ("::1", Loopback),
            ("::", Unspecified),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("ff02::1", Multicast),
            ("2001::1", Teredo),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("2001:10::1", Reserved),
            ("100::1", Reserved),
            ("fd00:ec2::254", CloudMetadata),
            ("64:ff9b:1::a00:1", Private),
            // IPv4-mapped.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("0:0:0:0:0:ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", CloudMetadata),
            ("::ffff:100.64.0.1", SharedAddressSpace),
            // IPv4-compatible (deprecated).
            ("::127.0.0.1", Loopback),
            ("::192.168.0.1", Private),
            ("::8.8.8.8", Reserved),
            // NAT64 well-known prefix.
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", CloudMetadata),
            // 6to4.
            ("2002:7f00:1::1", Loopback),
            ("2002:c0a8:101::1", Private),
            // Outside global unicast.
            ("4000::1", Reserved),
            ("1234::1", Reserved),
        ];
        for (ip, expected) in table {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn parses_inet_aton_encodings() {
        let loopback = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for host in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "017700000001",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0X7F.0.0.0x1",
            "127.1",
            "127.0.1",
            "0x7f.1",
            "0177.0x0.1",
            "127.0.0.1.",
        ] {
            assert_eq!(parse_ip_literal(host), loopback, "{host}");
        }
        assert_eq!(
            parse_ip_literal("0xa9.254.43518"),
            Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)))
        );
        assert_eq!(
            parse_ip_literal("[::ffff:7f00:1]"),
            Some("::ffff:7f00:1".parse().unwrap())
        );
    }

    #[test]
    fn names_and_malformed_numbers_are_not_literals() {
        for host in [
            "api.openai.com",
            "127.0.0.1.nip.io",
            "1.2.3.4.5",
            "256.0.0.1",
            "127.16777216",
            "4294967296",
            "08.0.0.1",
            "1..1",
            "",
            "0xg",
            "[127.0.0.1]",
        ] {
            assert_eq!(parse_ip_literal(host), None, "{host}");
        }
        assert_eq!(
            parse_ip_literal("0x.0x"),
            Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(
            parse_ip_literal("4294967295"),
            Some(IpAddr::V4(Ipv4Addr::BROADCAST))
        );
    }

    #[test]
    fn refuses_hosts_before_resolution() {
        let table = [
            ("2130706433", Loopback),
            ("0177.0.0.1", Loopback),
            ("0x7f.0.0.1", Loopback),
            ("127.1", Loopback),
            ("0x7f.0.1", Loopback),
            ("0", Unspecified),
            ("3232235777", Private),
            ("2852039166", CloudMetadata),
            ("[::1]", Loopback),
            ("[::ffff:127.0.0.1]", Loopback),
            ("metadata.google.internal", MetadataHostname),
            ("METADATA.GOOGLE.INTERNAL.", MetadataHostname),
            ("metadata", MetadataHostname),
            ("instance-data", MetadataHostname),
        ];
        for (host, expected) in table {
            assert_eq!(host_forbidden(host), Some(expected), "{host}");
        }
        for host in [
            "api.openai.com",
            "localhost",
            "8.8.8.8",
            "[2606:4700::1111]",
        ] {
            assert_eq!(host_forbidden(host), None, "{host}");
        }
    }

    #[test]
    fn only_metadata_survives_allow_private() {
        assert!(CloudMetadata.is_always_refused());
        assert!(MetadataHostname.is_always_refused());
        assert!(!Loopback.is_always_refused());
        assert!(!Private.is_always_refused());
    }
}
