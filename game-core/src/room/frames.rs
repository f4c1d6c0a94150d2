//! The room's frames: building them from the game, and publishing the world's on the bus.
//!
//! Each frame is serialized once, here, and shared by every socket that sends it. World
//! frames go to the [`World`] (the bus, timed for `/metrics`, stamped with the command
//! that caused them); a player's brief is built by [`brief`] and sent by the caller.

use std::sync::Arc;

use protocol::{
    server::{ErrorPayload, TokenPayload},
    ChatFrom, ChatLine, LeavingPayload, ObjectPayload, PlayerUpdate, ScorePayload, ServerMessage,
    Uuid,
};
use rules::game::{Game, Item, Player};

use super::metrics::RoomMetrics;
use crate::bus::{frame, Bus, Frame};
use crate::clock::Clock;
use crate::history::writer::HistoryWriter;
use crate::store::HistoryRecord;

/// How many top scorers a brief lists (the page shows fewer).
const SCOREBOARD_BRIEF: usize = 10;

/// Where a room's world frames go.
pub(super) struct World {
    /// The game whose frames these are.
    game: Uuid,
    /// Where world frames go.
    bus: Arc<dyn Bus>,
    /// Where the room times its publishes, for `/metrics`.
    metrics: RoomMetrics,
    /// The cluster command being handled, if any: its frames carry its id.
    cause: Option<Uuid>,
    /// The number of the next world frame in the game's stream.
    next_seq: u64,
    /// Where every world frame is also kept, with its time (`None`: no history).
    history: Option<(HistoryWriter, Arc<dyn Clock>)>,
}

/// The number of a room's first world frame: above the last one known of the game (a
/// take-over's replayed tail), and above any an earlier room of the game can have
/// used: microseconds of the wall clock (`now_ms` * 1000). A room numbers one a frame,
/// so an earlier room, started earlier, stays below unless it published more than a
/// thousand frames per millisecond of its life; this holds across restarts and idle
/// unloads on one instance, which keep nothing of the stream, and between owners of a
/// cluster whose clocks differ by less than the old owner's lifetime (the replayed
/// tail covers the rest). The numbers stay below 2^53 (exact in a JavaScript client)
/// until the year 2255.
pub(super) fn first_seq(now_ms: i64, last_known: Option<u64>) -> u64 {
    let clock = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000);
    last_known.map_or(clock, |last| clock.max(last.saturating_add(1)))
}

impl World {
    pub(super) fn new(
        game: Uuid,
        bus: Arc<dyn Bus>,
        metrics: RoomMetrics,
        first_seq: u64,
        history: Option<(HistoryWriter, Arc<dyn Clock>)>,
    ) -> Self {
        World {
            game,
            bus,
            metrics,
            cause: None,
            next_seq: first_seq,
            history,
        }
    }

    /// The number of the last world frame published (or, before the first, one below
    /// it).
    pub(super) fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Stamps every frame published from now on with `cause` (`None`: with nothing).
    pub(super) fn caused_by(&mut self, cause: Option<Uuid>) {
        self.cause = cause;
    }

    /// Hands one world frame to the bus, numbered, timed for `/metrics`.
    pub(super) fn publish(&mut self, frame: Frame) {
        let started = std::time::Instant::now();
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some((history, clock)) = &self.history {
            history.append(
                self.game,
                HistoryRecord::update(seq, clock.now_ms(), frame.clone()),
            );
        }
        match self.cause {
            Some(cause) => self.bus.publish_caused(self.game, frame, seq, cause),
            None => self.bus.publish(self.game, frame, seq),
        }
        self.metrics.observe_bus_publish(started.elapsed());
    }
}

/// What a player who entered is told, in order: its token if one was just bound, the
/// board ([`view`], without itself), and its own position (`own`) last.
pub(super) fn brief(
    game: &Game,
    player: Uuid,
    entered: &Player,
    token: Option<String>,
    own: Frame,
) -> Vec<Frame> {
    let mut brief = Vec::with_capacity(game.bricks.len() + game.food.len() + 16);
    if let Some(token) = token {
        brief.push(frame(&ServerMessage::Token {
            payload: TokenPayload { token },
        }));
    }
    let top = view(game, Some(player), &mut brief);
    // our own count when we are not among the best (players who caught nothing have
    // none); the page hears of every later catch on the world socket
    if entered.score > 0 && !top.contains(&player) {
        brief.push(score_frame(player, entered));
    }
    brief.push(own);
    brief
}

/// What a spectator is told (docs/protocol.md, "Spectators"): the board as a player's
/// brief has it, with every player on it.
pub(super) fn spectator_brief(game: &Game) -> Vec<Frame> {
    let mut brief = Vec::with_capacity(game.bricks.len() + game.food.len() + 16);
    view(game, None, &mut brief);
    brief
}

/// The game as a newcomer sees it, into `frames`: the [`board`] and the scoreboard's
/// best; returns who the best are.
fn view(game: &Game, except: Option<Uuid>, frames: &mut Vec<Frame>) -> Vec<Uuid> {
    board(game, except, frames);
    let top = game.top_scores(SCOREBOARD_BRIEF);
    frames.extend(top.iter().map(|(id, p)| score_frame(*id, p)));
    top.into_iter().map(|(id, _)| id).collect()
}

/// The board as a brief lays it out: geometry, the active players (but `except`),
/// bricks, food.
fn board(game: &Game, except: Option<Uuid>, frames: &mut Vec<Frame>) {
    frames.push(frame(&ServerMessage::Geometry {
        payload: game.board.into(),
    }));
    for (id, other) in game.active_players().filter(|(id, _)| Some(*id) != except) {
        frames.push(player_frame(id, other.update()));
    }
    frames.extend(game.bricks.iter().map(brick_frame));
    frames.extend(game.food.iter().map(food_frame));
}

/// The game's whole state as the frames of a brief to a watcher (docs/protocol.md,
/// "History"): the board with every active player, and every player's score (the
/// scoreboard as it stands, not only its top).
pub(super) fn snapshot(game: &Game) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(game.bricks.len() + game.food.len() + 16);
    board(game, None, &mut frames);
    let scores = game.top_scores(usize::MAX);
    frames.extend(scores.iter().map(|(id, p)| score_frame(*id, p)));
    frames
}

/// A player's position and looks.
pub(super) fn player_frame(player: Uuid, update: PlayerUpdate) -> Frame {
    frame(&ServerMessage::Player {
        player_id: player,
        payload: update,
    })
}

fn brick_frame(brick: &Item) -> Frame {
    frame(&ServerMessage::Brick {
        payload: item_payload(brick),
    })
}

pub(super) fn food_frame(food: &Item) -> Frame {
    frame(&ServerMessage::Food {
        food_id: food.id,
        payload: item_payload(food),
    })
}

/// A player's score (the scoreboard extension).
pub(super) fn score_frame(id: Uuid, player: &Player) -> Frame {
    frame(&ServerMessage::Score {
        player_id: id,
        payload: ScorePayload {
            name: player.name.clone(),
            score: player.score,
        },
    })
}

/// `player` left the game under `name`.
pub(super) fn leaving_frame(player: Uuid, name: String) -> Frame {
    frame(&ServerMessage::Leaving {
        player_id: player,
        payload: LeavingPayload { name },
    })
}

/// A chat line of `player`'s.
pub(super) fn chat_frame(player: Uuid, line: ChatLine) -> Frame {
    frame(&ServerMessage::Chat {
        player_id: ChatFrom::Player(player),
        payload: line,
    })
}

/// A line the server says to one player.
pub(super) fn server_chat_frame(text: &str) -> Frame {
    frame(&ServerMessage::server_chat(
        Uuid::new_v4().to_string(),
        text,
    ))
}

/// Why a frame of a player's was refused.
pub(super) fn error_frame(reason: String) -> Frame {
    frame(&ServerMessage::Error {
        payload: ErrorPayload { reason },
    })
}

fn item_payload(item: &Item) -> ObjectPayload {
    ObjectPayload {
        x: item.cell.x,
        y: item.cell.y,
        name: item.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::first_seq;

    #[test]
    fn a_room_numbers_its_frames_after_the_clock_and_after_the_last_one_known() {
        let now_ms = 1_796_812_345_678;
        assert_eq!(first_seq(now_ms, None), 1_796_812_345_678_000);
        // a take-over whose tail ends above the clock (an old owner whose clock ran ahead)
        assert_eq!(
            first_seq(now_ms, Some(1_796_812_999_000_000)),
            1_796_812_999_000_001
        );
        // a tail below the clock: the clock
        assert_eq!(first_seq(now_ms, Some(5)), 1_796_812_345_678_000);
        // a clock before 1970, a tail at the end of the numbers: never a panic
        assert_eq!(first_seq(-1, None), 0);
        assert_eq!(first_seq(now_ms, Some(u64::MAX)), u64::MAX);
        // below 2^53, exact in a JavaScript client, until the year 2255
        assert!(first_seq(9_000_000_000_000, None) < 1 << 53);
    }
}
