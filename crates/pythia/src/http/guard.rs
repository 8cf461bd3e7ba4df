//! The guard against server-side request forgery: which addresses may not be reached.
//!
//! When a client refuses private networks, every address a host name resolves to is checked
//! at connect time, by [`GuardedResolver`] for reqwest and [`HyperResolver`] for the webhook
//! transport (so a name that resolves to `127.0.0.1` is refused even if it resolved elsewhere
//! a moment ago), and IP-literal hosts are checked before a request is sent and on each
//! redirect.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name as HyperName;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address belongs to a range an untrusted URL must not reach: unspecified,
/// loopback, private, shared (CGNAT), link-local (cloud metadata included), benchmarking,
/// documentation, reserved, broadcast, multicast, unique-local, and IPv4 addresses embedded in
/// IPv6 (mapped, compatible, NAT64) that fall in those ranges.
pub(crate) fn is_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => is_refused_v6(v6),
    }
}

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_refused_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_refused_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, where fd00:ec2::254 lives
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // deprecated site-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible or NAT64 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
    let compatible = s[0..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1);
    (nat64 || compatible).then(tail)
}

/// A host that resolves only to refused addresses (or is one).
#[derive(Debug)]
pub(crate) struct RefusedAddress {
    pub(crate) host: String,
}

impl fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to a private, loopback or link-local address",
            self.host
        )
    }
}

impl StdError for RefusedAddress {}

type BoxError = Box<dyn StdError + Send + Sync>;

/// Resolves `host` and, when `guard` is set, drops the refused addresses, failing with
/// [`RefusedAddress`] when none is left. Ports are left at 0 for the connector to set.
async fn resolve(host: &str, guard: bool) -> Result<Vec<SocketAddr>, BoxError> {
    let resolved = tokio::net::lookup_host((host, 0)).await?;
    if !guard {
        return Ok(resolved.collect());
    }
    let allowed: Vec<SocketAddr> = resolved.filter(|a| !is_refused(a.ip())).collect();
    if allowed.is_empty() {
        metrics::counter!("pythia_http_refused_addresses_total").increment(1);
        tracing::warn!(host = %host, "refused to connect to a private address");
        return Err(Box::new(RefusedAddress {
            host: host.to_owned(),
        }));
    }
    Ok(allowed)
}

/// A reqwest resolver that drops refused addresses and fails when none is left.
#[derive(Debug, Default)]
pub(crate) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let allowed = resolve(name.as_str(), true).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The resolver of a hyper connector: the system's, through tokio, dropping refused addresses
/// as [`GuardedResolver`] does when `guard` is set. IP-literal hosts never reach it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HyperResolver {
    pub(crate) guard: bool,
}

impl tower_service::Service<HyperName> for HyperResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: HyperName) -> Self::Future {
        let guard = self.guard;
        Box::pin(async move { Ok(resolve(name.as_str(), guard).await?.into_iter()) })
    }
}

/// Checks a URL whose host is an IP literal; names are checked by the resolver.
pub(crate) fn check_literal(url: &url::Url) -> Result<(), RefusedAddress> {
    refused_literal(url).map_or(Ok(()), |ip| Err(refuse(ip)))
}

/// Counts a refused IP-literal host and says why it is refused.
pub(crate) fn refuse(ip: IpAddr) -> RefusedAddress {
    metrics::counter!("pythia_http_refused_addresses_total").increment(1);
    RefusedAddress {
        host: ip.to_string(),
    }
}

/// The host of a URL when it is an IP literal in a refused range, without counting it.
pub(crate) fn refused_literal(url: &url::Url) -> Option<IpAddr> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return None,
    };
    is_refused(ip).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        is_refused(text.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        let addresses = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ];

        for address in addresses {
            assert!(refused(address), "{address} should be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(address), "{address} should be allowed");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_are_left_to_the_resolver() {
        let check = |u: &str| check_literal(&url::Url::parse(u).unwrap()).is_ok();

        assert!(!check("http://127.0.0.1:8080/x"));
        assert!(!check("http://[::1]/x"));
        assert!(check("http://localhost/x"));
        assert!(check("https://93.184.216.34/"));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let name: Name = "localhost".parse().unwrap();

        let result = GuardedResolver.resolve(name).await;

        let error = result.err().expect("localhost must be refused");
        assert!(error.downcast_ref::<RefusedAddress>().is_some(), "{error}");
    }

    #[tokio::test]
    async fn the_hyper_resolver_refuses_loopback_only_when_guarding() {
        use tower_service::Service;
        let name = || "localhost".parse::<HyperName>().unwrap();

        let refused = HyperResolver { guard: true }.call(name()).await;
        let allowed = HyperResolver { guard: false }.call(name()).await;

        let error = refused.expect_err("localhost must be refused");
        assert!(error.downcast_ref::<RefusedAddress>().is_some(), "{error}");
        assert!(allowed.unwrap().all(|a| a.ip().is_loopback()));
    }
}
