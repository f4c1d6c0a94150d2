//! A take-over's state, as plain functions: the game as the store last saw it, with the
//! world frames published since applied on top, so that a move any client saw validated
//! is part of the new owner's game even when the old owner died before writing it.
//!
//! World frames carry whole state (a player's position, a food's cell, a departure), so
//! applying one twice, or applying a frame older than a row the store already has, ends
//! in the same state as long as the frames are applied in topic order up to the end:
//! the replay may start anywhere before the oldest unwritten row.

use protocol::{Board, Cell, ServerMessage, Uuid};

use game_core::game::{Game, Player};
use game_core::store::rows::GameRows;
use game_core::store::{ObjectKind, StoredObject};

/// The game in `rows`, with the players the rows mark active still active: at a
/// take-over they are connected to some instance, and their cells stay taken. `None`
/// when the rows hold no game.
pub fn restore(id: Uuid, board: Board, rows: &[StoredObject]) -> Option<Game> {
    let mut game = Game::restore(id, board, rows)?;
    for row in rows
        .iter()
        .filter(|r| r.kind == ObjectKind::Player && r.active)
    {
        if let Some(mut player) = game.player(row.object_id).cloned() {
            let free = player.cell.is_some_and(|c| game.player_on(c).is_none());
            player.active = free;
            game.put_player(row.object_id, player);
        }
    }
    Some(game)
}

/// Applies one world frame to `game`; frames that change no state (chat) are ignored.
/// A score frame always follows the catch's player frame, so its player is known.
pub fn apply(game: &mut Game, message: &ServerMessage) {
    match message {
        ServerMessage::Player { player_id, payload } => {
            let previous = game.player(*player_id).cloned();
            let cell = match (payload.x, payload.y) {
                (Some(x), Some(y)) => Some(game.board.clamp(Cell::new(x, y))),
                _ => previous.as_ref().and_then(|p| p.cell),
            };
            if let Some(other) = cell.and_then(|c| game.player_on(c)) {
                if other != *player_id {
                    // the other one must have moved on in frames we do not have
                    deactivate(game, other);
                }
            }
            let score = previous.as_ref().map_or(0, |p| p.score);
            game.put_player(
                *player_id,
                Player {
                    name: payload.name.clone(),
                    cell,
                    h: payload.h,
                    generation: payload.generation,
                    active: true,
                    score,
                },
            );
        }
        // scores only grow: a frame older than the stored row changes nothing
        ServerMessage::Score { player_id, payload } => {
            if let Some(mut player) = game.player(*player_id).cloned() {
                player.score = player.score.max(payload.score);
                game.put_player(*player_id, player);
            }
        }
        ServerMessage::Leaving { player_id, .. } => deactivate(game, *player_id),
        ServerMessage::Food { food_id, payload } => {
            let cell = game.board.clamp(Cell::new(payload.x, payload.y));
            if let Some(index) = game.food.iter().position(|f| f.id == *food_id) {
                game.move_food(index, cell);
            }
        }
        _ => {}
    }
}

fn deactivate(game: &mut Game, player: Uuid) {
    if let Some(mut p) = game.player(player).cloned() {
        p.active = false;
        game.put_player(player, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{LeavingPayload, ObjectPayload, PlayerUpdate, ScorePayload};
    use rand::{rngs::StdRng, SeedableRng};

    fn player_frame(id: Uuid, x: i32, y: i32, generation: i32) -> ServerMessage {
        ServerMessage::Player {
            player_id: id,
            payload: PlayerUpdate {
                x: Some(x),
                y: Some(y),
                h: false,
                generation,
                name: "p".into(),
            },
        }
    }

    #[test]
    fn players_marked_active_in_the_store_stay_active_and_keep_their_cells() {
        let game = game_core::rules::new_game(
            Uuid::new_v4(),
            Board::STANDARD,
            &mut StdRng::seed_from_u64(1),
        );
        let mut rows = game.rows();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let free: Vec<Cell> = (0..30)
            .map(|x| Cell::new(x, 0))
            .filter(|c| game.is_empty(*c))
            .take(2)
            .collect();
        for (id, cell, active) in [(a, free[0], true), (b, free[1], false)] {
            rows.push(StoredObject {
                kind: ObjectKind::Player,
                object_id: id,
                active,
                x: cell.x,
                y: cell.y,
                h: false,
                generation: 4,
                name: "p".into(),
                score: 3,
                expires_ms: None,
                token_hash: None,
            });
        }
        let restored = restore(game.id, Board::STANDARD, &rows).unwrap();
        assert!(restored.player(a).unwrap().active);
        assert_eq!(restored.player(a).unwrap().score, 3);
        assert_eq!(restored.player_on(free[0]), Some(a));
        assert!(!restored.player(b).unwrap().active);
        assert_eq!(restored.player_on(free[1]), None);
    }

    #[test]
    fn frames_applied_in_order_give_the_last_state_twice_over() {
        let mut game = game_core::rules::new_game(
            Uuid::new_v4(),
            Board::STANDARD,
            &mut StdRng::seed_from_u64(2),
        );
        let a = Uuid::from_u128(1);
        let food = game.food[0].id;
        let cell = (0..30)
            .map(|x| Cell::new(x, 1))
            .find(|c| game.is_empty(*c))
            .unwrap();
        let frames = [
            player_frame(a, cell.x, cell.y, 1),
            ServerMessage::Food {
                food_id: food,
                payload: ObjectPayload {
                    x: 3,
                    y: 22,
                    name: "food_0000".into(),
                },
            },
            ServerMessage::Score {
                player_id: a,
                payload: ScorePayload {
                    name: "p".into(),
                    score: 1,
                },
            },
            player_frame(a, cell.x + 1, cell.y, 2),
        ];
        for _ in 0..2 {
            for frame in &frames {
                apply(&mut game, frame);
            }
        }
        let p = game.player(a).unwrap();
        assert_eq!(
            (p.cell, p.generation, p.active, p.score),
            (Some(Cell::new(cell.x + 1, cell.y)), 2, true, 1)
        );
        assert_eq!(game.player_on(Cell::new(cell.x + 1, cell.y)), Some(a));
        assert_eq!(game.player_on(cell), None);
        assert_eq!(game.food[0].cell, Cell::new(3, 22));
        apply(
            &mut game,
            &ServerMessage::Leaving {
                player_id: a,
                payload: LeavingPayload { name: "p".into() },
            },
        );
        assert!(!game.player(a).unwrap().active);
        assert_eq!(game.player_on(Cell::new(cell.x + 1, cell.y)), None);
    }

    #[test]
    fn a_player_shown_on_a_taken_cell_displaces_the_stale_one() {
        let mut game = game_core::rules::new_game(
            Uuid::new_v4(),
            Board::STANDARD,
            &mut StdRng::seed_from_u64(3),
        );
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let cell = (0..30)
            .map(|x| Cell::new(x, 2))
            .find(|c| game.is_empty(*c))
            .unwrap();
        apply(&mut game, &player_frame(a, cell.x, cell.y, 1));
        apply(&mut game, &player_frame(b, cell.x, cell.y, 1));
        assert_eq!(game.player_on(cell), Some(b));
        assert!(!game.player(a).unwrap().active);
    }
}
