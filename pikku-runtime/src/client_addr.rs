//! The client's address: the peer's, or, behind trusted proxies, the one they report in
//! `X-Forwarded-For`.
//!
//! Why the list is read from the right: each proxy appends the address it received the request from, so
//! the rightmost entries are written by the proxies in front of the server, and the leftmost ones by
//! whoever sent the request first, which may be anyone. A client can put any address it likes at the
//! left (`X-Forwarded-For: 1.2.3.4`, then the proxy appends the client's real address); taking the
//! leftmost entry would let it choose the address a login throttle keys on. Walking from the right and
//! skipping only the proxies the operator trusts stops at the first address that no trusted party vouches
//! for: the client as the outermost trusted proxy saw it.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client address of a request that arrived from `peer`, given the trusted proxies.
///
/// * `peer` is not a trusted proxy (always so when none are configured): `peer`.
/// * Otherwise the `X-Forwarded-For` entries (all the header's lines, in order) are walked from the right,
///   skipping trusted proxies; the first untrusted address is the client. When every entry is a trusted
///   proxy, the leftmost one is (the request started inside the trusted network).
/// * No `X-Forwarded-For`, or an entry that is not an IP address among those walked: `peer`. Only the
///   entries the trusted proxies wrote are read, so a client cannot force this by sending garbage at the
///   left.
///
/// An entry may carry a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`), as some proxies write it; the
/// port is dropped. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are taken as the IPv4 address.
pub(crate) fn resolve_client_addr(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted_proxies) {
        return peer;
    }
    let mut leftmost_trusted = None;
    for line in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        for entry in line.as_bytes().rsplit(|&b| b == b',') {
            let Some(addr) = parse_entry(entry) else {
                return peer;
            };
            if !is_trusted(addr, trusted_proxies) {
                return addr;
            }
            leftmost_trusted = Some(addr);
        }
    }
    leftmost_trusted.unwrap_or(peer)
}

fn is_trusted(addr: IpAddr, trusted_proxies: &[IpNet]) -> bool {
    trusted_proxies.iter().any(|net| net.contains(&addr))
}

/// One `X-Forwarded-For` entry: an IP address, possibly with a port.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim_matches(|c| c == ' ' || c == '\t');
    let addr =
        text.parse::<IpAddr>().ok().or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|socket| socket.ip()))?;
    Some(addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR.clone(), HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    const PROXY: &str = "10.0.0.5";

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &[]), ip(PROXY));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip("198.51.100.9"), &headers, &nets(&["10.0.0.0/8"])), ip("198.51.100.9"));
    }

    #[test]
    fn a_trusted_proxy_supplies_the_client() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_wins_over_what_the_client_wrote_at_the_left() {
        // The client sent `X-Forwarded-For: 1.2.3.4`; the edge proxy appended the real address, an inner
        // proxy appended the edge proxy's.
        let headers = forwarded(&["1.2.3.4, 203.0.113.7, 10.0.0.2"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
    }

    #[test]
    fn lines_are_read_in_order_the_last_line_first() {
        let headers = forwarded(&["1.2.3.4", "203.0.113.7, 10.0.0.2"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
        let headers = forwarded(&["203.0.113.7", "10.0.0.2"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
    }

    #[test]
    fn a_single_address_is_a_trusted_proxy_too() {
        let trusted = nets(&["10.0.0.5/32", "2001:db8::1/128"]);
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &trusted), ip("203.0.113.7"));
        assert_eq!(resolve_client_addr(ip("2001:db8::1"), &headers, &trusted), ip("203.0.113.7"));
        assert_eq!(resolve_client_addr(ip("10.0.0.6"), &headers, &trusted), ip("10.0.0.6"));
    }

    #[test]
    fn all_trusted_entries_give_the_leftmost() {
        let headers = forwarded(&["10.1.1.1, 10.0.0.2"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("10.1.1.1"));
    }

    #[test]
    fn no_header_from_a_trusted_proxy_is_the_peer() {
        assert_eq!(resolve_client_addr(ip(PROXY), &HeaderMap::new(), &nets(&["10.0.0.0/8"])), ip(PROXY));
    }

    #[test]
    fn a_malformed_entry_the_proxies_wrote_means_the_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        for bad in ["unknown", "", "203.0.113.7 10.0.0.2", "300.1.1.1", "203.0.113.7,", "_hidden"] {
            let headers = forwarded(&[bad]);
            assert_eq!(resolve_client_addr(ip(PROXY), &headers, &trusted), ip(PROXY), "{bad:?}");
        }
    }

    #[test]
    fn garbage_left_of_the_client_is_never_read() {
        let headers = forwarded(&["not-an-address, 203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
        let mut headers = HeaderMap::new();
        headers.append(X_FORWARDED_FOR.clone(), HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.7").unwrap());
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
    }

    #[test]
    fn ports_and_spaces_are_tolerated() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = forwarded(&["  203.0.113.7:4711 ,10.0.0.2"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &trusted), ip("203.0.113.7"));
        let headers = forwarded(&["[2001:db8::7]:4711"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &trusted), ip("2001:db8::7"));
        let headers = forwarded(&["2001:db8::7"]);
        assert_eq!(resolve_client_addr(ip(PROXY), &headers, &trusted), ip("2001:db8::7"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = forwarded(&["::ffff:203.0.113.7"]);
        assert_eq!(resolve_client_addr(ip("::ffff:10.0.0.5"), &headers, &trusted), ip("203.0.113.7"));
        assert_eq!(resolve_client_addr(ip("::ffff:198.51.100.9"), &headers, &trusted), ip("198.51.100.9"));
    }
}
