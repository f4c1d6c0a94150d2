//! The link with the server: whether sockets are wanted, open or being retried, which
//! session they belong to, how long to wait before the next attempt, and what the
//! server told us about the link itself (its bus, our resume token).

use protocol::Entering;

/// First reconnection delay; doubled on every failed attempt.
const RETRY_BASE_MS: u32 = 500;
/// Longest reconnection delay.
const RETRY_MAX_MS: u32 = 8_000;

/// Where the page is in its life with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not in a game: the form is shown.
    Offline,
    /// The socket is being opened (for the first time, or again after a drop).
    Connecting,
    /// The socket is open.
    Open,
    /// The socket dropped; the next attempt starts after `delay_ms`.
    Retrying {
        /// How long the page waits before the next attempt.
        delay_ms: u32,
    },
}

/// The link's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Whether sockets are wanted, open or being retried.
    pub status: Status,
    /// False while the server says world updates cannot be delivered (its bus is
    /// away): moves still count, but others' moves may arrive late.
    pub bus_ok: bool,
    /// Failed attempts since the last successful brief; sets the backoff.
    pub attempts: u32,
    /// Bumped whenever sockets must be (re)opened; the app's socket effect keys on it,
    /// and events from an older session's sockets are ignored.
    pub session: u32,
    /// The resume token the server bound to our id (extension, docs/protocol.md): asked
    /// for on the first entering, presented on every later one, so that nobody else can
    /// enter under our id and a reconnect replaces our stale socket at once.
    pub token: Option<String>,
    /// Why the server closed the last socket that dropped, if it said: shown while the
    /// page waits to retry, forgotten once a session opens.
    pub closed_because: Option<String>,
    /// The number of the last world update applied in this game (docs/protocol.md,
    /// "Resuming the world stream"): a reconnection names it (`?after=`).
    pub seen: Option<u64>,
    /// The number the socket being opened named, until its first message says whether
    /// the stream resumed (the world is kept) or not (the world is cleared for the
    /// brief).
    pub resuming: Option<u64>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            status: Status::Offline,
            bus_ok: true,
            attempts: 0,
            session: 0,
            token: None,
            closed_because: None,
            seen: None,
            resuming: None,
        }
    }
}

impl Link {
    /// Whether the player is in a game (connected or trying to be).
    pub fn in_game(&self) -> bool {
        self.status != Status::Offline
    }

    /// Whether an event of `session`'s sockets still counts: it is the current session
    /// and the player has not left.
    pub fn current(&self, session: u32) -> bool {
        session == self.session && self.in_game()
    }

    /// The player entered: a first attempt, with no backoff.
    pub fn enter(&mut self) {
        self.attempts = 0;
        self.connect();
    }

    /// The socket of `session` opened: true if it is the one being opened, and we are
    /// to enter ([`Link::entering`]). At once: the server subscribes the one socket to
    /// the game's world stream before answering its handshake, so an update published
    /// after our brief reaches us (with two sockets the page had to wait for both).
    pub fn opened(&mut self, session: u32) -> bool {
        if session != self.session || self.status != Status::Connecting {
            return false;
        }
        self.status = Status::Open;
        self.closed_because = None;
        true
    }

    /// The `entering` frame's payload for `name`: with our resume token, or asking for
    /// one.
    pub fn entering(&self, name: &str) -> Entering {
        Entering {
            name: name.into(),
            want_token: self.token.is_none(),
            token: self.token.clone(),
        }
    }

    /// A socket of `session` closed or failed (the server saying why, or not): wait,
    /// then try again.
    pub fn dropped(&mut self, session: u32, reason: Option<String>) {
        if !self.current(session) {
            return;
        }
        self.closed_because = reason.filter(|r| !r.is_empty());
        self.back_off();
        // a new session makes the socket effect close both old sockets
        self.session += 1;
    }

    /// The backoff delay ran out and the server answers: a new session, if the page was
    /// waiting (true then: the world must be cleared for the brief to come).
    pub fn retry(&mut self) -> bool {
        let waiting = matches!(self.status, Status::Retrying { .. });
        if waiting {
            self.connect();
        }
        waiting
    }

    /// The backoff delay ran out but the server does not answer: wait longer, if the
    /// page was waiting.
    pub fn unreachable(&mut self) {
        if matches!(self.status, Status::Retrying { .. }) {
            self.back_off();
        }
    }

    /// Starts a new session: the socket effect opens both sockets for it.
    fn connect(&mut self) {
        self.session += 1;
        self.status = Status::Connecting;
        self.bus_ok = true;
    }

    /// Counts a failed attempt and waits longer before the next one.
    fn back_off(&mut self) {
        let delay_ms = RETRY_BASE_MS
            .saturating_mul(1 << self.attempts.min(5))
            .min(RETRY_MAX_MS);
        self.attempts += 1;
        self.status = Status::Retrying { delay_ms };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::*;
    use crate::state::{Action, Socket};
    use protocol::Cell;

    #[test]
    fn entering_sends_the_name_once_the_socket_opens() {
        let s = placed();
        assert_eq!(
            sent(&s),
            vec![r#"{"messageType":"entering","payload":{"name":"Argiope","wantToken":true}}"#]
        );
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
        assert_eq!(s.world.generation, 1);
    }

    #[test]
    fn a_drop_retries_with_growing_backoff_and_reenters_under_the_same_id() {
        let mut s = placed();
        let mut delays = vec![];
        for _ in 0..6 {
            s.apply(Action::Dropped {
                session: s.link.session,
                reason: None,
            });
            let Status::Retrying { delay_ms } = s.link.status else {
                panic!("expected a retry, got {:?}", s.link.status)
            };
            delays.push(delay_ms);
            s.apply(Action::Retry);
            assert_eq!(s.link.status, Status::Connecting);
        }
        assert_eq!(delays, vec![500, 1000, 2000, 4000, 8000, 8000]);
        open(&mut s);
        assert_eq!(s.me, ME);
        assert!(s.debug.last_sent.contains("entering"));
    }

    #[test]
    fn the_resume_token_the_server_gave_is_presented_when_entering_again() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"token","payload":{"token":"0f3c"}}"#,
        );
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: None,
        });
        s.apply(Action::Retry);
        open(&mut s);
        assert_eq!(
            s.debug.last_sent,
            r#"{"messageType":"entering","payload":{"name":"Argiope","token":"0f3c"}}"#
        );
    }

    #[test]
    fn the_server_s_reason_for_a_close_is_kept_until_a_session_opens() {
        let mut s = placed();
        let why =
            "this game cannot start now: its server runs the most games it may; try again later";
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: Some(why.into()),
        });
        assert_eq!(s.link.closed_because.as_deref(), Some(why));
        s.apply(Action::Retry);
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: Some(String::new()),
        });
        assert_eq!(s.link.closed_because, None, "a close that says nothing");
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: Some(why.into()),
        });
        s.apply(Action::Retry);
        open(&mut s);
        assert_eq!(s.link.closed_because, None, "open again");
    }

    #[test]
    fn an_unreachable_server_backs_off_without_opening_sockets() {
        let mut s = placed();
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: None,
        });
        let session = s.link.session;
        s.apply(Action::Unreachable);
        s.apply(Action::Unreachable);
        assert_eq!(s.link.status, Status::Retrying { delay_ms: 2000 });
        assert_eq!((s.link.session, s.link.attempts), (session, 3));
        s.apply(Action::Retry);
        assert_eq!(s.link.status, Status::Connecting);
        s.apply(Action::Unreachable);
        assert_eq!(
            s.link.status,
            Status::Connecting,
            "only a waiting page backs off"
        );
    }

    #[test]
    fn only_the_socket_of_the_session_being_opened_enters() {
        let mut s = offline();
        s.apply(Action::Enter);
        let old = s.link.session;
        // a drop before the socket opened: the old session's socket no longer counts
        s.apply(Action::Dropped {
            session: old,
            reason: None,
        });
        s.apply(Action::Retry);
        s.apply(Action::Opened { session: old });
        assert_eq!(s.link.status, Status::Connecting);
        assert!(
            sent(&s).is_empty(),
            "the old session's socket does not count"
        );
        open(&mut s);
        assert_eq!(s.link.status, Status::Open);
        assert_eq!(sent(&s).len(), 1, "one entering");
        open(&mut s);
        assert_eq!(sent(&s).len(), 1, "still one entering");
    }

    #[test]
    fn events_from_an_old_session_are_ignored() {
        let mut s = placed();
        let old = s.link.session;
        s.apply(Action::Dropped {
            session: old,
            reason: None,
        });
        s.apply(Action::Retry);
        s.apply(Action::Dropped {
            session: old,
            reason: None,
        });
        assert_eq!(s.link.status, Status::Connecting);
        s.apply(Action::Received {
            session: old,
            text: format!("[{}]", player_frame(OTHER, 1, 1, 0)),
        });
        assert_eq!(s.others().count(), 0);
    }

    #[test]
    fn the_server_saying_its_bus_is_away_is_remembered_until_it_is_back() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::World,
            r#"{"messageType":"status","payload":{"bus_ok":false}}"#,
        );
        assert!(!s.link.bus_ok);
        receive(
            &mut s,
            Socket::World,
            r#"{"messageType":"status","payload":{"bus_ok":true}}"#,
        );
        assert!(s.link.bus_ok);
    }

    #[test]
    fn leave_sends_leaving_and_goes_offline() {
        let mut s = placed();
        s.apply(Action::Leave);
        assert_eq!(
            s.debug.last_sent,
            r#"{"messageType":"leaving","payload":{"name":"Argiope"}}"#
        );
        assert_eq!(s.link.status, Status::Offline);
        assert_eq!(s.own(), None);
    }
}
