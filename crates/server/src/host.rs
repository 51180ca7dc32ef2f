//! Which registry (account + region) a request addresses, from its host name.
//!
//! `<12 digits>.dkr.ecr.<region>.<domain>[:port]` names that account's
//! registry in that region; any other host names the default registry.
//! (Once authentication lands, "default" becomes the caller's own account.)

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use berth_registry::RegistryKey;
use http::{HeaderMap, HeaderValue, Uri};

/// The default domain: account host names under it do not resolve by
/// themselves, so plain addresses are handed out where they work.
pub const LOCAL_DOMAIN: &str = "localhost";

/// `base` with the port of `request_host`, if it has one.
fn with_port(base: String, request_host: &str) -> String {
    let port = request_host
        .rsplit_once(':')
        .filter(|(h, p)| !h.ends_with(']') || p.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(p) => format!("{base}:{p}"),
        None => base,
    }
}

#[derive(Clone, Debug)]
pub struct HostConfig {
    pub default_account: String,
    pub default_region: String,
    /// The domain under which account host names live (default `localhost`).
    pub domain: String,
    /// `http` or `https`, as the server listens (for endpoints it hands out).
    pub scheme: &'static str,
    /// The host name of public repositories and the gallery (lowercase,
    /// no port; default `public.<domain>`), as ECR Public's
    /// `public.ecr.aws`.
    pub public_host: String,
    /// Peers whose `X-Forwarded-For` names the client (load balancers).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl HostConfig {
    /// Where clients reach `registry`, as `caller_account` is told it in
    /// an answer to a request that reached `request_host`
    /// (`Call::registry_host`, which says why; the console's pages too).
    pub fn registry_host(
        &self,
        registry: &RegistryKey,
        caller_account: &str,
        request_host: &str,
    ) -> String {
        let own_default =
            registry.account_id == caller_account && registry.region == self.default_region;
        if own_default && self.domain == LOCAL_DOMAIN && !request_host.is_empty() {
            return request_host.to_string();
        }
        with_port(
            format!(
                "{}.dkr.ecr.{}.{}",
                registry.account_id, registry.region, self.domain
            ),
            request_host,
        )
    }

    /// The settings with the default public host, `public.<domain>`.
    pub fn new(
        default_account: String,
        default_region: String,
        domain: String,
        scheme: &'static str,
    ) -> Self {
        HostConfig {
            public_host: format!("public.{domain}"),
            trusted_proxies: Vec::new(),
            default_account,
            default_region,
            domain,
            scheme,
        }
    }

    /// The host public images are pulled from (the public host, with the
    /// port the request came to), as ECR Public's `public.ecr.aws`.
    pub fn public_host(&self, request_host: &str) -> String {
        with_port(self.public_host.clone(), request_host)
    }

    /// The client's address: the peer's, unless the peer is a trusted
    /// proxy; then the last address of `X-Forwarded-For` that is not a
    /// trusted proxy's (each proxy appends the address it saw, so the
    /// ones before the last untrusted one may be the client's inventions).
    /// `None` when a trusted proxy's header names no address berth can
    /// read: never the proxy's own address, which policies allowing the
    /// internal network would take for an insider's.
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        headers: &HeaderMap,
    ) -> Option<std::net::IpAddr> {
        let trusted = |ip: &std::net::IpAddr| {
            let ip = ip.to_canonical();
            self.trusted_proxies.iter().any(|n| n.contains(&ip))
        };
        if !trusted(&peer) {
            return Some(peer);
        }
        let mut client = None;
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        if forwarded.is_empty() {
            // The proxy's own request (a health check): it is the client.
            return Some(peer);
        }
        for hop in forwarded.iter().rev() {
            let ip = forwarded_address(hop)?;
            client = Some(ip);
            if !trusted(&ip) {
                break;
            }
        }
        client
    }

    /// Whether the request came to the public host (by `Host`, or HTTP/2's
    /// `:authority`, never an absolute-form target: as `account_registry`).
    pub fn is_public(&self, version: http::Version, uri: &Uri, headers: &HeaderMap) -> bool {
        request_host(version, uri, headers).eq_ignore_ascii_case(&self.public_host)
    }

    pub fn default_registry(&self) -> RegistryKey {
        RegistryKey {
            account_id: self.default_account.clone(),
            region: self.default_region.clone(),
        }
    }

    /// The registry an account host name addresses, if the request uses
    /// one. The name comes from the `Host` header (HTTP/2: `:authority`,
    /// its equivalent), never from an absolute-form request target: a
    /// client must not reach another account by writing its host name into
    /// the request line while the connection's `Host` says otherwise.
    pub fn account_registry(
        &self,
        version: http::Version,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<RegistryKey> {
        self.parse_account_host(request_host(version, uri, headers))
    }

    fn parse_account_host(&self, host: &str) -> Option<RegistryKey> {
        let host = host.to_ascii_lowercase();
        let rest = host.strip_suffix(&self.domain)?.strip_suffix('.')?;
        let (account, rest) = rest.split_once('.')?;
        let region = rest.strip_prefix("dkr.ecr.")?;
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = (2..=25).contains(&region.len())
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (account_ok && region_ok).then(|| RegistryKey {
            account_id: account.to_string(),
            region: region.to_string(),
        })
    }
}

/// An `X-Forwarded-For` hop: an address, with a port as some balancers
/// add it (`203.0.113.5:4711`, `[2001:db8::1]:443`).
fn forwarded_address(hop: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

/// The host name a request came to, without its port.
fn request_host<'a>(version: http::Version, uri: &'a Uri, headers: &'a HeaderMap) -> &'a str {
    if version >= http::Version::HTTP_2 {
        uri.authority().map(|a| a.host())
    } else {
        headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(strip_port)
    }
    .unwrap_or_default()
}

fn strip_port(h: &str) -> &str {
    if let Some(bracketed) = h.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    h.rsplit_once(':').map(|(host, _)| host).unwrap_or(h)
}

/// HTTP/2 carries the host in `:authority` (RFC 9113 8.3.1), which hyper
/// puts in the URI, and clients send no `Host` header. SigV4 signs `host`
/// whatever the version (AWS's SDKs compute it from the authority), and
/// presigned URLs name it: an HTTP/2 request without `Host` gets one from
/// its authority, so every API reads the host one way. HTTP/1 requests are
/// left alone (their `Host` is required and is what names the account).
pub async fn authority_as_host(mut req: Request, next: Next) -> Response {
    if req.version() >= http::Version::HTTP_2 && !req.headers().contains_key(http::header::HOST) {
        let host = req.uri().authority().map(|a| match a.port_u16() {
            Some(port) => format!("{}:{port}", a.host()),
            None => a.host().to_string(),
        });
        if let Some(v) = host.and_then(|h| HeaderValue::from_str(&h).ok()) {
            req.headers_mut().insert(http::header::HOST, v);
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HostConfig {
        HostConfig::new(
            "000000000000".into(),
            "us-east-1".into(),
            "localhost".into(),
            "http",
        )
    }

    #[test]
    fn x_forwarded_for_counts_only_from_trusted_proxies() {
        let mut c = cfg();
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let lb: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        let outsider: std::net::IpAddr = "192.0.2.9".parse().unwrap();
        let with = |xff: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            h
        };
        // The balancer says who the client is.
        assert_eq!(
            c.client_ip(lb, &with("198.51.100.7")).unwrap().to_string(),
            "198.51.100.7"
        );
        // With a port, as some balancers write it.
        for (xff, want) in [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
        ] {
            assert_eq!(
                c.client_ip(lb, &with(xff)).unwrap().to_string(),
                want,
                "{xff}"
            );
        }
        // A client's own claim before that is ignored; chained proxies are skipped.
        assert_eq!(
            c.client_ip(lb, &with("1.1.1.1, 198.51.100.7, 10.9.9.9"))
                .unwrap()
                .to_string(),
            "198.51.100.7"
        );
        // An untrusted peer's header is ignored.
        assert_eq!(c.client_ip(outsider, &with("198.51.100.7")), Some(outsider));
        // No header: the proxy itself asks. A garbled one: nobody known,
        // never the proxy (policies allowing the internal network).
        assert_eq!(c.client_ip(lb, &HeaderMap::new()), Some(lb));
        assert_eq!(c.client_ip(lb, &with("not-an-ip")), None);
        assert_eq!(c.client_ip(lb, &with("198.51.100.7, unknown")), None);
    }

    #[test]
    fn the_public_host_is_recognised_by_its_name_alone() {
        let c = cfg();
        let uri = Uri::from_static("/v2/");
        let with = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::HOST, host.parse().unwrap());
            h
        };
        assert!(c.is_public(http::Version::HTTP_11, &uri, &with("public.localhost:5000")));
        assert!(c.is_public(http::Version::HTTP_11, &uri, &with("PUBLIC.localhost")));
        for other in [
            "localhost:5000",
            "public.localhost.evil:5000",
            "x.public.localhost",
        ] {
            assert!(
                !c.is_public(http::Version::HTTP_11, &uri, &with(other)),
                "{other}"
            );
        }
        // Not from an absolute-form target.
        let abs: Uri = "http://public.localhost:5000/v2/".parse().unwrap();
        assert!(!c.is_public(http::Version::HTTP_11, &abs, &with("localhost:5000")));
        assert_eq!(c.public_host("localhost:5000"), "public.localhost:5000");
    }

    fn key(host: &str) -> RegistryKey {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, host.parse().unwrap());
        cfg()
            .account_registry(http::Version::HTTP_11, &Uri::from_static("/v2/"), &h)
            .unwrap_or_else(|| cfg().default_registry())
    }

    #[test]
    fn an_absolute_request_target_does_not_choose_the_account() {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "127.0.0.1:5000".parse().unwrap());
        let uri: Uri = "http://111111111111.dkr.ecr.us-east-1.localhost:5000/v2/_catalog"
            .parse()
            .unwrap();
        assert_eq!(
            cfg().account_registry(http::Version::HTTP_11, &uri, &h),
            None
        );
        // HTTP/2 has no Host header: `:authority` is its equivalent.
        let k = cfg()
            .account_registry(http::Version::HTTP_2, &uri, &HeaderMap::new())
            .unwrap();
        assert_eq!(k.account_id, "111111111111");
    }

    #[test]
    fn account_hosts_address_their_registry() {
        let k = key("123456789012.dkr.ecr.eu-west-1.localhost:5000");
        assert_eq!(
            (k.account_id.as_str(), k.region.as_str()),
            ("123456789012", "eu-west-1")
        );
        let k = key("123456789012.DKR.ECR.us-west-2.localhost");
        assert_eq!(k.region, "us-west-2");
    }

    #[test]
    fn other_hosts_address_the_default_registry() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "12345.dkr.ecr.us-east-1.localhost",
            "123456789012.dkr.ecr.us-east-1.example.com",
        ] {
            assert_eq!(key(h), cfg().default_registry(), "{h}");
        }
    }
}
