//! The guard's figures: handshakes refused, frames dropped over a rate limit, sockets
//! closed for flooding.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::rate::Limited;
use super::Refusal;

/// Labels of a counter by reason or kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    /// [`Refusal::LABELS`].
    reason: &'static str,
}

/// Labels of `drapetisca_frames_limited_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    /// [`Limited::as_str`].
    kind: &'static str,
}

/// The guard's figures; cheap to clone (the handles are).
#[derive(Clone, Debug, Default)]
pub struct GuardMetrics {
    /// WebSocket handshakes refused (origin, caps, floods), by the check that refused them.
    sockets_refused: Family<Reason, Counter>,
    /// Client frames dropped for going over a rate limit, by kind.
    frames_limited: Family<Kind, Counter>,
    /// Sockets closed for having too many frames dropped or refused.
    sockets_flooding: Counter,
}

impl GuardMetrics {
    /// The guard's figures, registered into `registry` (the `drapetisca_` one).
    pub fn register(registry: &mut Registry) -> Self {
        let m = GuardMetrics::default();
        // created now, so that every reason is shown from zero
        for reason in Refusal::LABELS {
            drop(m.sockets_refused.get_or_create(&Reason { reason }));
        }
        for kind in Limited::ALL {
            drop(m.frames_limited.get_or_create(&Kind {
                kind: kind.as_str(),
            }));
        }
        registry.register(
            "sockets_refused",
            "WebSocket handshakes refused, by the check that refused them",
            m.sockets_refused.clone(),
        );
        registry.register(
            "frames_limited",
            "Client frames dropped for going over a rate limit, by kind",
            m.frames_limited.clone(),
        );
        registry.register(
            "sockets_flooding",
            "Sockets closed for having too many frames dropped or refused",
            m.sockets_flooding.clone(),
        );
        m
    }

    /// A WebSocket handshake refused.
    pub fn socket_refused(&self, refusal: Refusal) {
        let reason = Refusal::LABELS[refusal.index()];
        self.sockets_refused.get_or_create(&Reason { reason }).inc();
    }

    /// A client frame of `kind` dropped for going over its rate limit.
    pub fn frame_limited(&self, kind: Limited) {
        self.frames_limited
            .get_or_create(&Kind {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// A socket closed for having too many frames dropped or refused.
    pub fn socket_flooding(&self) {
        self.sockets_flooding.inc();
    }
}
