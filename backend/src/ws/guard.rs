//! What a client may do, checked in the socket layer before anything reaches a room:
//! whose pages may open sockets ([`origin`]), how many sockets one address and the whole
//! server take ([`caps`]), and how fast a socket may send each kind of frame ([`rate`]).
//! Every limit is a setting ([`GuardOptions`]).

pub mod caps;
pub mod origin;
pub mod rate;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::metrics::Metrics;
use caps::{CapError, SocketCaps, SocketSlot};
use origin::OriginPolicy;
use rate::{FrameRates, Rate};

/// Limits on clients; every one a flag and a `DRAPETISCA_*` variable.
#[derive(Clone, Debug, clap::Args)]
pub struct GuardOptions {
    /// Origins (scheme://host[:port], comma-separated) whose pages may open the
    /// WebSockets, besides the server's own; `*` allows any. A handshake without an
    /// Origin header (not a browser) is always allowed
    #[arg(
        long,
        env = "DRAPETISCA_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080,http://localhost:8080"
    )]
    pub allowed_origins: Vec<String>,

    /// Most WebSockets open at once, in all (a player uses two)
    #[arg(long, env = "DRAPETISCA_MAX_SOCKETS", default_value_t = 10_000)]
    pub max_sockets: usize,

    /// Most WebSockets open at once from one client address (IPv6: one /64)
    #[arg(
        long,
        env = "DRAPETISCA_MAX_SOCKETS_PER_ADDRESS",
        default_value_t = 128
    )]
    pub max_sockets_per_address: usize,

    /// Moves one player socket may send: RATE a second, bursts of up to BURST, as
    /// RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_MOVE_LIMIT", default_value = "40/80")]
    pub move_limit: Rate,

    /// Chat lines one player socket may send, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_CHAT_LIMIT", default_value = "1/10")]
    pub chat_limit: Rate,

    /// `entering` frames one player socket may send, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_ENTER_LIMIT", default_value = "1/5")]
    pub enter_limit: Rate,

    /// Frames one socket may have dropped (over a limit) or refused (malformed) before
    /// it is closed: RATE forgiven a second, at most BURST at once, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_DROP_LIMIT", default_value = "10/200")]
    pub drop_limit: Rate,
}

/// The checks, built once from the settings and shared by every socket.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Whose pages may open sockets.
    origins: OriginPolicy,
    /// How many sockets may be open.
    caps: SocketCaps,
    /// Each socket's frame limits.
    pub rates: FrameRates,
}

/// Why a WebSocket handshake was refused, answered before the upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("websockets from this origin are not allowed")]
    Origin,
    #[error("{0}")]
    Capacity(CapError),
}

impl Refusal {
    pub const LABELS: [&'static str; 3] = ["origin", "total", "address"];

    /// Its index in [`Refusal::LABELS`] (the label of its metric).
    pub fn index(self) -> usize {
        match self {
            Refusal::Origin => 0,
            Refusal::Capacity(CapError::Total(_)) => 1,
            Refusal::Capacity(CapError::Address(_)) => 2,
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::Origin => StatusCode::FORBIDDEN,
            Refusal::Capacity(CapError::Total(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Capacity(CapError::Address(_)) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Refusal::Capacity(_)) {
            response.insert_header((header::RETRY_AFTER, "10"));
        }
        response
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl Guard {
    pub fn new(options: &GuardOptions) -> Self {
        Guard {
            origins: OriginPolicy::new(&options.allowed_origins),
            caps: SocketCaps::new(options.max_sockets, options.max_sockets_per_address),
            rates: FrameRates {
                moves: options.move_limit,
                chat: options.chat_limit,
                entering: options.enter_limit,
                drops: options.drop_limit,
            },
        }
    }

    /// Checks a WebSocket handshake: its origin, then the caps. The slot it returns
    /// must live as long as the socket.
    pub fn admit(&self, req: &HttpRequest, metrics: &Metrics) -> Result<SocketSlot, Refusal> {
        let address = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let checked = if self
            .origins
            .allows(text(header::ORIGIN), text(header::HOST))
        {
            self.caps.acquire(address).map_err(Refusal::Capacity)
        } else {
            Err(Refusal::Origin)
        };
        if let Err(refusal) = &checked {
            metrics.sockets_refused[refusal.index()].fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%address, origin = ?text(header::ORIGIN), %refusal, "websocket refused");
        }
        checked
    }
}
