//! Per-socket rate limits: one token bucket per kind of frame, and one for the frames a
//! socket had dropped or refused, which closes a socket that keeps at it.
//!
//! Why our own few lines rather than the `governor` crate: each bucket belongs to one
//! socket task and is never shared, so it needs no atomics, no keyed store and no clock
//! source of its own; `governor` 0.10 would add 8 crates to the build (quanta,
//! raw-cpuid, portable-atomic, spinning_top, ...) for the same arithmetic. The clock
//! comes in as an argument, so the tests run on made-up instants.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use protocol::ClientMessage;

/// A limit: `per_second` tokens come back every second, at most `burst` are kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Sustained rate.
    pub per_second: f64,
    /// Largest burst; also what a fresh socket starts with.
    pub burst: f64,
}

impl Rate {
    /// No limit at all (`off` on the command line).
    pub const OFF: Rate = Rate {
        per_second: f64::INFINITY,
        burst: f64::INFINITY,
    };
}

impl FromStr for Rate {
    type Err = String;

    /// `RATE/BURST` (e.g. `40/80`: 40 a second, bursts of up to 80), or `off`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Rate::OFF);
        }
        let wrong = || format!("expected RATE/BURST (e.g. 40/80) or off, got {text:?}");
        let (rate, burst) = text.split_once('/').ok_or_else(wrong)?;
        let per_second: f64 = rate.trim().parse().map_err(|_| wrong())?;
        let burst: f64 = burst.trim().parse().map_err(|_| wrong())?;
        if !(per_second.is_finite() && per_second >= 0.0 && burst.is_finite() && burst >= 1.0) {
            return Err(format!(
                "the rate must be 0 or more and the burst 1 or more, got {text:?}"
            ));
        }
        Ok(Rate { per_second, burst })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.per_second.is_infinite() {
            f.write_str("off")
        } else {
            write!(f, "{}/{}", self.per_second, self.burst)
        }
    }
}

/// A token bucket, full at first.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    /// Its limit.
    rate: Rate,
    /// Tokens left, up to `rate.burst`.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            rate,
            tokens: rate.burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate.per_second.is_infinite() {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The kinds of client frame that are limited. `leaving` is not: it changes something
/// only after an `entering`, which is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    Move,
    Chat,
    Entering,
}

impl Limited {
    /// The limit a client frame falls under, if any.
    pub fn of(message: &ClientMessage) -> Option<Limited> {
        match message {
            ClientMessage::Player { .. } => Some(Limited::Move),
            ClientMessage::Chat { .. } => Some(Limited::Chat),
            ClientMessage::Entering { .. } => Some(Limited::Entering),
            ClientMessage::Leaving { .. } => None,
        }
    }

    pub const ALL: [Limited; 3] = [Limited::Move, Limited::Chat, Limited::Entering];

    /// Its index in [`Limited::ALL`] (the label of its metric).
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short label, for metrics and error frames.
    pub fn as_str(self) -> &'static str {
        match self {
            Limited::Move => "move",
            Limited::Chat => "chat",
            Limited::Entering => "entering",
        }
    }
}

/// The limits of every socket (from the settings).
#[derive(Clone, Copy, Debug)]
pub struct FrameRates {
    pub moves: Rate,
    pub chat: Rate,
    pub entering: Rate,
    /// Dropped or refused frames a socket may have before it is closed.
    pub drops: Rate,
}

/// What becomes of a frame, by the rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFate {
    /// Within the limits: handle it.
    Pass,
    /// Over a limit: drop it and tell the client.
    Drop,
    /// Dropped, and the socket has had too many dropped or refused frames: close it.
    Close,
}

/// One socket's buckets.
#[derive(Clone, Debug)]
pub struct FrameLimiter {
    moves: TokenBucket,
    chat: TokenBucket,
    entering: TokenBucket,
    /// Spent by every dropped or refused frame; empty means the client keeps at it.
    drops: TokenBucket,
}

impl FrameLimiter {
    pub fn new(rates: FrameRates, now: Instant) -> Self {
        FrameLimiter {
            moves: TokenBucket::new(rates.moves, now),
            chat: TokenBucket::new(rates.chat, now),
            entering: TokenBucket::new(rates.entering, now),
            drops: TokenBucket::new(rates.drops, now),
        }
    }

    /// Whether a well-formed frame of `kind` may go on.
    pub fn admit(&mut self, kind: Limited, now: Instant) -> FrameFate {
        let bucket = match kind {
            Limited::Move => &mut self.moves,
            Limited::Chat => &mut self.chat,
            Limited::Entering => &mut self.entering,
        };
        if bucket.take(now) {
            FrameFate::Pass
        } else {
            self.refused(now)
        }
    }

    /// A frame was refused (malformed, or over a limit): `Close` once there were too many.
    pub fn refused(&mut self, now: Instant) -> FrameFate {
        if self.drops.take(now) {
            FrameFate::Drop
        } else {
            FrameFate::Close
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rate(text: &str) -> Rate {
        text.parse().unwrap()
    }

    #[test]
    fn rates_parse_from_rate_slash_burst_or_off() {
        assert_eq!(
            rate("40/80"),
            Rate {
                per_second: 40.0,
                burst: 80.0
            }
        );
        assert_eq!(
            rate(" 0.5 / 3 "),
            Rate {
                per_second: 0.5,
                burst: 3.0
            }
        );
        assert_eq!(rate("OFF"), Rate::OFF);
        for bad in [
            "", "40", "40/", "/80", "x/1", "-1/5", "5/0", "inf/5", "1/NaN",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should not parse");
        }
        assert_eq!(rate("40/80").to_string(), "40/80");
        assert_eq!(Rate::OFF.to_string(), "off");
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(rate("2/3"), t0);
        assert_eq!((0..5).filter(|_| b.take(t0)).count(), 3, "the burst");
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take(t1), "one token back after half a second at 2/s");
        assert!(!b.take(t1));
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(
            (0..10).filter(|_| b.take(t2)).count(),
            3,
            "never more than the burst"
        );
        let mut off = TokenBucket::new(Rate::OFF, t0);
        assert!((0..10_000).all(|_| off.take(t0)));
    }

    #[test]
    fn a_client_over_a_limit_is_dropped_then_closed_if_it_keeps_at_it() {
        let t0 = Instant::now();
        let rates = FrameRates {
            moves: rate("10/2"),
            chat: rate("1/1"),
            entering: rate("1/1"),
            drops: rate("1/3"),
        };
        let mut l = FrameLimiter::new(rates, t0);
        let verdicts: Vec<FrameFate> = (0..6).map(|_| l.admit(Limited::Move, t0)).collect();
        use FrameFate::*;
        assert_eq!(verdicts, [Pass, Pass, Drop, Drop, Drop, Close]);
        // the kinds are counted apart
        let mut l = FrameLimiter::new(rates, t0);
        assert_eq!(l.admit(Limited::Chat, t0), Pass);
        assert_eq!(l.admit(Limited::Chat, t0), Drop);
        assert_eq!(l.admit(Limited::Entering, t0), Pass);
        assert_eq!(l.admit(Limited::Move, t0), Pass);
        // a client that slows down is forgiven
        let mut l = FrameLimiter::new(rates, t0);
        for second in 0..20 {
            let now = t0 + Duration::from_secs(second);
            assert_eq!(l.admit(Limited::Chat, now), Pass);
            assert_eq!(l.admit(Limited::Chat, now), Drop, "second {second}");
        }
    }
}
