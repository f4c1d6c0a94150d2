//! What a client may do, checked in the socket layer before anything reaches a room:
//! whose pages may open sockets ([`origin`]; a refused one is told to the operator once,
//! with the flag that allows it: [`hint`]), how many sockets one address and the whole
//! server take ([`caps`]), how fast a socket may send each kind of frame ([`rate`]), and
//! which addresses were just closed for flooding and wait before they may come back
//! ([`penalty`]), and how fast an address may read games' history ([`reads`]).
//! Every limit is a setting ([`GuardOptions`]); what the guard refuses is counted in
//! its own figures ([`metrics`]).

pub mod caps;
pub mod hint;
pub mod metrics;
pub mod options;
pub mod origin;
pub mod penalty;
pub mod rate;
pub mod reads;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use caps::{CapError, SocketCaps, SocketSlot};
use hint::OriginHints;
use metrics::GuardMetrics;
pub use options::GuardOptions;
use origin::OriginPolicy;
use penalty::FloodBans;
use rate::FrameRates;

/// The checks, built once from the settings and shared by every socket.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Whose pages may open sockets.
    origins: OriginPolicy,
    /// Which refused origins the log has told of; a `std` mutex, held for a lookup
    /// and never across an `.await`.
    hints: Arc<Mutex<OriginHints>>,
    /// How many sockets may be open.
    caps: SocketCaps,
    /// Addresses refused for a while after flooding.
    bans: FloodBans,
    /// Each socket's frame limits.
    pub rates: FrameRates,
    /// History reads: per address, and at once.
    pub history_reads: reads::HistoryReads,
    /// What the guard refused, for `/metrics`.
    pub metrics: GuardMetrics,
}

/// Why a WebSocket handshake was refused, answered before the upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("websockets from this origin are not allowed")]
    Origin,
    #[error("{0}")]
    Capacity(CapError),
    /// The address had a socket closed for flooding; this many seconds are left.
    #[error("a socket of your address was closed for flooding; try again in {0} s")]
    Flooding(u64),
}

impl Refusal {
    pub const LABELS: [&'static str; 4] = ["origin", "total", "address", "flooding"];

    /// Its index in [`Refusal::LABELS`] (the label of its metric).
    pub fn index(self) -> usize {
        match self {
            Refusal::Origin => 0,
            Refusal::Capacity(CapError::Total(_)) => 1,
            Refusal::Capacity(CapError::Address(_)) => 2,
            Refusal::Flooding(_) => 3,
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::Origin => StatusCode::FORBIDDEN,
            Refusal::Capacity(CapError::Total(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Capacity(CapError::Address(_)) | Refusal::Flooding(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Refusal::Origin => {}
            Refusal::Capacity(_) => {
                response.insert_header((header::RETRY_AFTER, "10"));
            }
            Refusal::Flooding(left) => {
                response.insert_header((header::RETRY_AFTER, left.to_string()));
            }
        }
        response
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl Guard {
    pub fn new(options: &GuardOptions, metrics: GuardMetrics) -> Self {
        Guard {
            metrics,
            origins: OriginPolicy::new(&options.allowed_origins),
            hints: Arc::default(),
            caps: SocketCaps::new(options.max_sockets, options.max_sockets_per_address),
            bans: FloodBans::new(Duration::from_secs(options.flood_ban_secs)),
            rates: FrameRates {
                moves: options.move_limit,
                chat: options.chat_limit,
                entering: options.enter_limit,
                drops: options.drop_limit,
            },
            history_reads: reads::HistoryReads::new(
                options.history_read_limit,
                reads::MAX_CONCURRENT_READS,
            ),
        }
    }

    /// Whether the page that sent `req` (its `Origin`, if any) may use this server: for
    /// sockets, and for the lobby's forms and API that change something. The first
    /// refusal of an origin is logged at info with the flag that would allow it, since
    /// the refused page itself shows nothing (a browser hides why a socket failed).
    pub fn origin_allowed(&self, req: &HttpRequest) -> bool {
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let origin = text(header::ORIGIN);
        let allowed = self.origins.allows(origin, text(header::HOST));
        if let (false, Some(origin)) = (allowed, origin) {
            self.tell(origin);
        }
        allowed
    }

    /// Logs the refusal of `origin` unless it was told already or the budget is spent
    /// ([`hint`]).
    fn tell(&self, origin: &str) {
        let hint = self
            .hints
            .lock()
            // the hints are only a log's memory: a panic elsewhere leaves them usable
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .refused(origin, self.origins.listed(), Instant::now());
        let Some(hint) = hint else { return };
        match &hint.flag {
            Some(flag) => tracing::info!(
                origin = ?hint.origin,
                others_not_logged = hint.untold,
                "refused a page from another origin (403); to let its pages play here, \
                 start drapetisca with {flag} (or DRAPETISCA_ALLOWED_ORIGINS); \
                 later refusals of this origin are not logged"
            ),
            None => tracing::info!(
                origin = ?hint.origin,
                others_not_logged = hint.untold,
                "refused a page from another origin (403), not a plain \
                 http(s)://host[:port]; later refusals of this origin are not logged"
            ),
        }
    }

    /// Checks a WebSocket handshake: its origin, whether its address is refused for
    /// flooding, then the caps. The slot it returns must live as long as the socket.
    pub fn admit(&self, req: &HttpRequest) -> Result<SocketSlot, Refusal> {
        let address = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let checked = if !self.origin_allowed(req) {
            Err(Refusal::Origin)
        } else if let Some(left) = self.bans.refused(address, Instant::now()) {
            // whole seconds, rounded up: "try again in 0 s" would be a lie
            Err(Refusal::Flooding(
                left.as_secs() + u64::from(left.subsec_nanos() > 0),
            ))
        } else {
            self.caps.acquire(address).map_err(Refusal::Capacity)
        };
        if let Err(refusal) = &checked {
            self.metrics.socket_refused(*refusal);
            tracing::debug!(%address, origin = ?text(header::ORIGIN), %refusal, "websocket refused");
        }
        checked
    }

    /// A socket was closed for flooding: its address is refused for a while
    /// (`--flood-ban-secs`).
    pub fn flooded(&self, address: IpAddr) {
        self.bans.ban(address, Instant::now());
        tracing::info!(%address, "socket closed for flooding; its address is refused for a while");
    }

    /// Sockets closed since the start.
    pub fn sockets_closed(&self) -> u64 {
        self.caps.closed()
    }
}
