//! Which web pages may open our sockets: a browser sends the page's origin with every
//! WebSocket handshake, and without this check any site could make its visitors play,
//! spam or take over ids here.

/// The allow-list. A request without `Origin` (not a browser: the reference's tools, the
/// load generator) is always allowed, and so is a page served by this server itself.
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    /// Allowed origins besides our own, lower case, as `scheme://host[:port]`.
    allowed: Vec<String>,
    /// `*` was given: every origin is allowed.
    any: bool,
}

impl OriginPolicy {
    /// A policy that allows `allowed` (`scheme://host[:port]` each; `*` allows every
    /// origin) besides the server's own.
    pub fn new(allowed: &[String]) -> Self {
        let allowed: Vec<String> = allowed
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        OriginPolicy {
            any: allowed.iter().any(|o| o == "*"),
            allowed,
        }
    }

    /// The origins allowed besides our own, as normalised.
    pub fn listed(&self) -> &[String] {
        &self.allowed
    }

    /// Whether a handshake with `origin` (its `Origin` header, if any) sent to `host`
    /// (its `Host` header) may open a socket.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.trim().to_ascii_lowercase();
        if self.any || self.allowed.contains(&origin) {
            return true;
        }
        // the page came from this server: its origin names the host it was sent to
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::OriginPolicy;

    fn check(allowed: &[&str], origin: Option<&str>, host: Option<&str>, expected: bool) {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        let policy = OriginPolicy::new(&allowed);
        assert_eq!(
            policy.allows(origin, host),
            expected,
            "allowed {allowed:?}, origin {origin:?}, host {host:?}"
        );
    }

    #[test]
    fn own_pages_listed_pages_and_non_browsers_are_allowed_others_refused() {
        let dev = ["http://127.0.0.1:8080", "http://localhost:8080"];
        let host = Some("game.example:8000");
        check(&dev, None, host, true);
        check(&dev, Some("http://game.example:8000"), host, true);
        check(&dev, Some("https://GAME.example:8000"), host, true);
        check(&dev, Some("http://127.0.0.1:8080"), host, true);
        check(&dev, Some("http://localhost:8080/"), host, false);
        check(&dev, Some("http://evil.example"), host, false);
        check(&dev, Some("http://game.example:8001"), host, false);
        check(&dev, Some("http://game.example"), host, false);
        check(&dev, Some("null"), host, false);
        check(&dev, Some("http://game.example:8000"), None, false);
        check(
            &["HTTPS://Play.Example/"],
            Some("https://play.example"),
            host,
            true,
        );
        check(&["*"], Some("http://evil.example"), host, true);
        check(&[""], Some("http://127.0.0.1:8080"), host, false);
    }
}
