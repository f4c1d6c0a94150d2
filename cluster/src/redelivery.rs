//! What a new owner drops as a redelivery. The broker delivers again, to the new owner
//! of a partition, the commands the old owner had not acknowledged, and the old owner
//! may have applied some of them already. Two checks recognise those:
//!
//! - a command whose id is the cause of a world frame in the replayed tail (exact, for
//!   what the old owner applied in the tail's window);
//! - a move whose generation is not past the player's generation at the take-over (the
//!   *floor*; it holds beyond the tail's window).
//!
//! Both hold only until the take-over's **marker** comes back: right after the take-over
//! the new owner publishes a ping with a nonce of its own into the game's command
//! partition. Commands of a partition reach the owner in the order the broker stored
//! them: one consumer is active per partition (Failover), one receive loop hands them on
//! in order to the owner loop, which queues them in order for the game's host; and at a
//! change of consumer the broker rewinds to the first unacknowledged command and
//! delivers from there, in the same order. The new owner publishes its marker once it
//! is the partition's consumer, so whatever the old owner received (every command it
//! may have applied) was stored before the marker and comes before it; every command
//! after the marker was sent after the take-over and is new. From the marker on, the
//! room alone judges the moves, as on one instance.
//!
//! Why not for the host's whole life, as at first: a player who comes back with a fresh
//! client counts its moves from 0 again (the reference client does on every entering),
//! so every move of a player that re-entered after a take-over fell under the floor,
//! and the player could never move again. Why a marker rather than the commands'
//! publish times (each instance's clock) or redelivery counts (pulsar-rs does not hand
//! them out): the partition's own order is exact and needs no clock.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use protocol::{ClientMessage, Uuid};

/// How long a marker may take to come back before it is published again (it may have
/// been dropped with a full outbox; one that comes back twice does no harm).
pub const MARKER_AGAIN: Duration = Duration::from_secs(2);

/// The redelivery checks of one host, from its take-over until its marker comes back.
#[derive(Debug)]
pub struct Redeliveries {
    /// The ids of the commands the old owners applied, from the world topic's tail.
    applied: HashSet<Uuid>,
    /// Each player's move counter at the take-over.
    floor: HashMap<Uuid, i32>,
    /// This take-over's marker, until it comes back.
    marker: Option<Uuid>,
    /// When the marker was last published (`None`: not yet).
    published: Option<Instant>,
    /// The players whose first dropped move was logged at info.
    logged: HashSet<Uuid>,
}

impl Redeliveries {
    /// The checks of a take-over: the causes read in the tail, each player's move
    /// counter in the state taken over, and the marker to publish.
    pub fn new(applied: HashSet<Uuid>, floor: HashMap<Uuid, i32>, marker: Uuid) -> Self {
        Redeliveries {
            applied,
            floor,
            marker: Some(marker),
            published: None,
            logged: HashSet::new(),
        }
    }

    /// The marker to publish now: the first time, and again when it has not come back
    /// within [`MARKER_AGAIN`]; `None` once it came back or while it may be on its way.
    pub fn marker_due(&mut self, now: Instant) -> Option<Uuid> {
        let marker = self.marker?;
        let due = self
            .published
            .is_none_or(|at| now.duration_since(at) >= MARKER_AGAIN);
        if !due {
            return None;
        }
        self.published = Some(now);
        Some(marker)
    }

    /// A ping of the game came back through its partition: if it is this take-over's
    /// marker, every command from now on is new, and the checks end for good. Returns
    /// whether it was.
    pub fn ping(&mut self, id: Option<Uuid>) -> bool {
        if id.is_none() || id != self.marker {
            return false;
        }
        self.marker = None;
        self.applied = HashSet::new();
        self.floor = HashMap::new();
        true
    }

    /// Whether a command of `player` with id `id` carrying `message` is new; a
    /// redelivery is dropped (the first of each player's logged at info).
    pub fn is_new(&mut self, id: Option<Uuid>, player: Uuid, message: &ClientMessage) -> bool {
        let applied = id.is_some_and(|id| self.applied.contains(&id));
        let under_floor = match message {
            ClientMessage::Player { payload } => self
                .floor
                .get(&player)
                .is_some_and(|floor| payload.generation <= *floor),
            _ => false,
        };
        if !applied && !under_floor {
            return true;
        }
        let why = if applied {
            "applied by the old owner"
        } else {
            "a move not past the player's generation at the take-over"
        };
        if self.logged.insert(player) {
            tracing::info!(%player, why, "a redelivered command dropped (only the first of this player's is logged)");
        } else {
            tracing::debug!(%player, why, "a redelivered command dropped");
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::PlayerUpdate;

    fn a_move(generation: i32) -> ClientMessage {
        ClientMessage::Player {
            payload: PlayerUpdate {
                x: Some(1),
                y: Some(2),
                h: false,
                generation,
                name: "Ana".into(),
            },
        }
    }

    const ANA: Uuid = Uuid::from_u128(1);
    const BOB: Uuid = Uuid::from_u128(2);
    const MARKER: Uuid = Uuid::from_u128(9);

    fn taken_over() -> Redeliveries {
        let applied = HashSet::from([Uuid::from_u128(7)]);
        Redeliveries::new(applied, HashMap::from([(ANA, 20)]), MARKER)
    }

    #[test]
    fn before_the_marker_a_move_under_the_floor_and_an_applied_command_are_dropped() {
        let mut checks = taken_over();
        assert!(
            !checks.is_new(None, ANA, &a_move(20)),
            "the old owner applied it"
        );
        assert!(!checks.is_new(None, ANA, &a_move(3)));
        assert!(checks.is_new(None, ANA, &a_move(21)), "past the floor");
        assert!(
            checks.is_new(None, BOB, &a_move(1)),
            "no floor: not there then"
        );
        let applied = Some(Uuid::from_u128(7));
        assert!(
            !checks.is_new(applied, BOB, &a_move(5)),
            "its id is in the tail"
        );
    }

    #[test]
    fn once_the_marker_came_back_a_fresh_client_counting_from_0_moves() {
        let mut checks = taken_over();
        assert!(
            !checks.ping(Some(Uuid::from_u128(8))),
            "an earlier owner's marker"
        );
        assert!(!checks.ping(None), "an instance's ownership ping");
        assert!(!checks.is_new(None, ANA, &a_move(1)), "nothing lifted");
        assert!(checks.ping(Some(MARKER)));
        assert!(checks.is_new(None, ANA, &a_move(1)));
        assert!(checks.is_new(Some(Uuid::from_u128(7)), ANA, &a_move(2)));
    }

    #[test]
    fn the_marker_is_published_at_once_and_again_until_it_comes_back() {
        let mut checks = taken_over();
        let start = Instant::now();
        assert_eq!(checks.marker_due(start), Some(MARKER));
        assert_eq!(checks.marker_due(start + MARKER_AGAIN / 2), None);
        assert_eq!(checks.marker_due(start + MARKER_AGAIN), Some(MARKER));
        checks.ping(Some(MARKER));
        assert_eq!(checks.marker_due(start + MARKER_AGAIN * 5), None);
    }
}
