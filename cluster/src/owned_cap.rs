//! The cap on the games an instance owns (`--max-owned-games`): which command for a
//! game this instance does not host starts a host, and which is refused.
//!
//! An instance owns whole command partitions, so it cannot choose its games; what it
//! can choose is whether a game *starts* here. The rule:
//!
//! - A **new game** (a socket's `connect` for a game that no owner told the census about
//!   lately) starts only below the cap; at the cap its socket is refused (closed, "try
//!   again later"), and the commands that socket sent meanwhile are dropped.
//! - A **running game** (the census counts its players, or a command comes from a socket
//!   this instance never refused: that socket joined the game under an earlier owner)
//!   is taken over whatever the cap: when every instance is at its cap and one dies, its
//!   games go on above the survivors' caps rather than being dropped. New games are then
//!   refused until the count is below the cap again.
//!
//! Pure bookkeeping over instants, so it is tested without a broker; the owner loop
//! (`super::own`) does the IO.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use protocol::Uuid;

use super::envelope::{Command, Kind};

/// How long the sockets refused for a game are remembered: their last commands (an
/// `entering` sent before the refusal reached them, their presence, their disconnect)
/// follow the refused `connect` within milliseconds; this is ample on a loaded machine.
pub const REFUSED_FOR: Duration = Duration::from_secs(30);

/// What to do with a command for a game this instance does not host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Start hosting the game; `above_cap` when that takes this instance past its cap
    /// (a running game taken over).
    Host { above_cap: bool },
    /// A new game, and this instance is at its cap: close the socket, try again later.
    Refuse,
    /// A command of sockets refused already: nothing to do.
    Drop,
}

/// The cap on owned games, and the sockets it refused lately.
#[derive(Debug)]
pub struct OwnedCap {
    /// Most games this instance starts hosting for new games.
    max: usize,
    /// Per game: the (origin, connection) of each socket refused, and when last.
    refused: HashMap<Uuid, (HashSet<(String, u64)>, Instant)>,
}

impl OwnedCap {
    pub fn new(max: usize) -> Self {
        OwnedCap {
            max,
            refused: HashMap::new(),
        }
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Judges `command`, for a game not hosted here, when this instance hosts `owned`
    /// games and `running` says whether the census counts players in the game (an
    /// owner spoke of it lately).
    pub fn judge(
        &mut self,
        command: &Command,
        owned: usize,
        running: bool,
        now: Instant,
    ) -> Verdict {
        self.refused
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < REFUSED_FOR);
        let above_cap = owned >= self.max;
        let game = command.game;
        // a spectator starts a game as a player does: the board is the room's
        let starts = matches!(command.kind, Kind::Connect | Kind::Watch);
        if starts && !running {
            if !above_cap {
                self.refused.remove(&game);
                return Verdict::Host { above_cap };
            }
            if let Some(socket) = command.socket {
                let (sockets, at) = self
                    .refused
                    .entry(game)
                    .or_insert_with(|| (HashSet::new(), now));
                sockets.insert((command.origin.clone(), socket.conn));
                *at = now;
            }
            return Verdict::Refuse;
        }
        if starts {
            return Verdict::Host { above_cap };
        }
        let conns: Vec<u64> = match (&command.socket, &command.conns) {
            (Some(socket), _) => vec![socket.conn],
            (None, Some(conns)) => conns.iter().map(|s| s.conn).collect(),
            (None, None) => Vec::new(),
        };
        let refused = self.refused.get(&game).map(|(sockets, _)| sockets);
        let all_refused = conns.iter().all(|conn| {
            refused.is_some_and(|sockets| sockets.contains(&(command.origin.clone(), *conn)))
        });
        if all_refused {
            // also a presence naming no socket: there is nothing to keep
            return Verdict::Drop;
        }
        // a socket this instance never refused joined the game under an earlier owner
        Verdict::Host { above_cap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::ConnRef;

    fn game() -> Uuid {
        Uuid::from_u128(7)
    }

    fn from(origin: &str, kind: Kind, conn: u64) -> Command {
        Command {
            game: game(),
            origin: origin.into(),
            kind,
            socket: (kind != Kind::Presence).then_some(ConnRef {
                player: Uuid::from_u128(conn as u128),
                conn,
            }),
            frame: None,
            conns: (kind == Kind::Presence).then(|| {
                vec![ConnRef {
                    player: Uuid::from_u128(conn as u128),
                    conn,
                }]
            }),
            id: None,
        }
    }

    const FREE: Verdict = Verdict::Host { above_cap: false };
    const ABOVE: Verdict = Verdict::Host { above_cap: true };

    #[test]
    fn a_new_game_starts_below_the_cap_and_is_refused_at_it() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(2);
        assert_eq!(cap.judge(&from("a", Kind::Connect, 1), 0, false, now), FREE);
        assert_eq!(cap.judge(&from("a", Kind::Connect, 1), 1, false, now), FREE);
        assert_eq!(
            cap.judge(&from("a", Kind::Connect, 1), 2, false, now),
            Verdict::Refuse
        );
        assert_eq!(
            cap.judge(&from("b", Kind::Connect, 1), 5, false, now),
            Verdict::Refuse,
            "also above it"
        );
    }

    #[test]
    fn a_refused_socket_s_later_commands_are_dropped_not_hosted() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(1);
        assert_eq!(
            cap.judge(&from("a", Kind::Connect, 3), 1, false, now),
            Verdict::Refuse
        );
        for kind in [Kind::Message, Kind::Presence, Kind::Disconnect] {
            assert_eq!(
                cap.judge(&from("a", kind, 3), 1, false, now),
                Verdict::Drop,
                "{kind:?}"
            );
        }
        // the same connection number on another instance is another socket
        assert_eq!(
            cap.judge(&from("b", Kind::Message, 3), 1, false, now),
            ABOVE
        );
        // forgotten after a while: the number could be anyone's by then
        let later = now + REFUSED_FOR;
        assert_eq!(
            cap.judge(&from("a", Kind::Message, 3), 1, false, later),
            ABOVE
        );
    }

    #[test]
    fn a_running_game_is_taken_over_whatever_the_cap() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(1);
        // the census counts its players: its owner died or handed it over
        assert_eq!(cap.judge(&from("a", Kind::Connect, 1), 1, true, now), ABOVE);
        assert_eq!(cap.judge(&from("a", Kind::Connect, 1), 0, true, now), FREE);
        // the census fell silent (the take-over came late), but the game's sockets speak
        for kind in [Kind::Message, Kind::Presence, Kind::Disconnect] {
            assert_eq!(cap.judge(&from("a", kind, 1), 4, false, now), ABOVE);
        }
        // a player of it came first and was refused; the others' presence still counts
        assert_eq!(
            cap.judge(&from("a", Kind::Connect, 2), 1, false, now),
            Verdict::Refuse
        );
        assert_eq!(
            cap.judge(&from("b", Kind::Presence, 5), 1, false, now),
            ABOVE
        );
    }

    #[test]
    fn a_game_refused_starts_once_below_the_cap() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(1);
        assert_eq!(
            cap.judge(&from("a", Kind::Connect, 1), 1, false, now),
            Verdict::Refuse
        );
        assert_eq!(cap.judge(&from("a", Kind::Connect, 2), 0, false, now), FREE);
        assert!(cap.refused.is_empty(), "started: nothing refused is left");
    }

    #[test]
    fn a_presence_naming_nobody_starts_nothing() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(1);
        let mut empty = from("a", Kind::Presence, 1);
        empty.conns = Some(Vec::new());
        assert_eq!(cap.judge(&empty, 0, false, now), Verdict::Drop);
    }

    #[test]
    fn a_spectator_starts_a_new_game_only_below_the_cap_as_a_player_does() {
        let now = Instant::now();
        let mut cap = OwnedCap::new(1);
        assert_eq!(cap.judge(&from("a", Kind::Watch, 1), 0, false, now), FREE);
        assert_eq!(
            cap.judge(&from("a", Kind::Watch, 2), 1, false, now),
            Verdict::Refuse
        );
        // a running game is watched whatever the cap
        assert_eq!(cap.judge(&from("a", Kind::Watch, 3), 1, true, now), ABOVE);
    }
}
