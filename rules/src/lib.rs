//! The rules of protocol.md as pure functions over [`Game`]: laying a new game, entering,
//! judging and applying a move (rules 1-6), leaving. Randomness comes in as an argument
//! so tests can fix it; nothing here does IO.
//!
//! The server applies every command with these functions; the page judges its own moves
//! with the same [`judge_move`] before showing them, so a move the server would refuse
//! for what the page already knows (a brick, the edge, a spider) never shows at all.
//!
//! # Layout
//!
//! - [`game`]: the state of one game as plain data, with indexes for O(1) validation.
//! - this file: the rules that change it.

pub mod game;

pub use game::{Game, Item, Player};

use protocol::{Board, Cell, PlayerUpdate, Uuid};
use rand::Rng;

/// Share of the cells covered by bricks.
const BRICK_SHARE: f64 = 0.025;
/// Food items per game.
const FOOD_COUNT: usize = 3;

/// Lays a fresh game: bricks on about 2.5% of the cells, then 3 food items, each on a
/// distinct random cell.
pub fn new_game(id: Uuid, board: Board, rng: &mut impl Rng) -> Game {
    let brick_count = (board.cell_count() as f64 * BRICK_SHARE) as usize;
    let mut game = Game::new(id, board, Vec::new(), Vec::new());
    let mut bricks = Vec::with_capacity(brick_count);
    for i in 0..brick_count {
        // the centre stays clear: it is where position-less players count as standing
        let cell = loop {
            // unwrap: a new board has far more cells than bricks and food together
            let c = random_empty_cell(&game, rng).unwrap();
            if c != board.centre() && !bricks.iter().any(|b: &Item| b.cell == c) {
                break c;
            }
        };
        bricks.push(Item {
            id: random_uuid(rng),
            name: format!("brick_{i:04}"),
            cell,
        });
    }
    game = Game::new(id, board, bricks, Vec::new());
    for i in 0..FOOD_COUNT {
        // unwrap: as above
        let cell = random_empty_cell(&game, rng).unwrap();
        game.food.push(Item {
            id: random_uuid(rng),
            name: format!("food_{i:04}"),
            cell,
        });
    }
    game
}

/// A v4 UUID from the injected random source (so seeded tests are repeatable).
pub fn random_uuid(rng: &mut impl Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

/// A uniformly random cell with nothing on it, or `None` when the board is full.
pub fn random_empty_cell(game: &Game, rng: &mut impl Rng) -> Option<Cell> {
    let board = game.board;
    // Rejection sampling is fast while the board is mostly free, which is the usual case;
    // the scan below answers exactly when it is crowded.
    for _ in 0..64 {
        let cell = Cell::new(
            rng.gen_range(0..board.width()),
            rng.gen_range(0..board.height()),
        );
        if game.is_empty(cell) {
            return Some(cell);
        }
    }
    let free: Vec<Cell> = board.cells().filter(|c| game.is_empty(*c)).collect();
    if free.is_empty() {
        None
    } else {
        Some(free[rng.gen_range(0..free.len())])
    }
}

/// What entering the game did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entered {
    /// The player's state now: active, on a free cell.
    pub player: Player,
    /// Whether the player came back to its stored position.
    pub returning: bool,
}

/// Why a player could not enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnterError {
    #[error("the board is full")]
    BoardFull,
}

/// Lets `id` enter under `name`: back at its stored position if it has one and the cell
/// is free, else on a random free cell. Entering again while active keeps the position.
pub fn enter(
    game: &mut Game,
    id: Uuid,
    name: String,
    rng: &mut impl Rng,
) -> Result<Entered, EnterError> {
    let known = game.player(id).cloned();
    let (cell, returning, h, generation, score) = match known {
        Some(p) if p.active => (p.cell, true, p.h, p.generation, p.score),
        Some(p) => match p.cell.filter(|c| is_free_for(game, id, *c)) {
            Some(c) => (Some(c), true, p.h, p.generation, p.score),
            None => (None, false, p.h, p.generation, p.score),
        },
        None => (None, false, false, 0, 0),
    };
    let cell = match cell {
        Some(c) => c,
        None => random_empty_cell(game, rng).ok_or(EnterError::BoardFull)?,
    };
    let player = Player {
        name,
        cell: Some(cell),
        h,
        generation,
        active: true,
        score,
    };
    game.put_player(id, player.clone());
    Ok(Entered { player, returning })
}

/// Marks `id` inactive, keeping its last position for a return. Returns the player's
/// name if it was active.
pub fn leave(game: &mut Game, id: Uuid) -> Option<String> {
    let mut player = game.player(id).filter(|p| p.active)?.clone();
    player.active = false;
    let name = player.name.clone();
    game.put_player(id, player);
    Some(name)
}

/// Why a move was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// More than a king's step from the last validated position (rule 4).
    TooFar,
    /// A brick is on the target cell (rule 3).
    Brick,
    /// Another active player is on the target cell (rule 3).
    Occupied,
}

impl Rejection {
    pub const ALL: [Rejection; 3] = [Rejection::TooFar, Rejection::Brick, Rejection::Occupied];

    /// A short label, for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::TooFar => "too_far",
            Rejection::Brick => "brick",
            Rejection::Occupied => "occupied",
        }
    }
}

/// A food item that moved because it was caught.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaughtFood {
    /// Its index in [`Game::food`].
    pub index: usize,
    /// Where it went.
    pub to: Cell,
}

/// What a `player` message did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The player has not entered the game (or has left): nothing changed.
    NotEntered,
    /// A position-less start-up update: published as it came (rule 1).
    PassedThrough(PlayerUpdate),
    /// The move was valid; `update` is what to publish, `caught` the food it caught
    /// (which counts one more for the player's score).
    Accepted {
        update: PlayerUpdate,
        caught: Option<CaughtFood>,
    },
    /// The move was refused; `update` puts the player back where it is (rule 5).
    Rejected {
        update: PlayerUpdate,
        reason: Rejection,
    },
}

/// Applies one `player` message from `id` (rules 1-6).
pub fn apply_move(
    game: &mut Game,
    id: Uuid,
    request: PlayerUpdate,
    rng: &mut impl Rng,
) -> MoveOutcome {
    let Some(mut player) = game.player(id).filter(|p| p.active).cloned() else {
        return MoveOutcome::NotEntered;
    };
    // name, hearts and generation are kept from the request, whatever the verdict
    player.name = request.name.clone();
    player.h = request.h;
    player.generation = request.generation;
    let (Some(x), Some(y)) = (request.x, request.y) else {
        game.put_player(id, player);
        return MoveOutcome::PassedThrough(request);
    };
    let from = player.cell.unwrap_or(game.board.centre());
    let target = match judge_move(game, id, from, Cell::new(x, y)) {
        Ok(target) => target,
        Err(reason) => {
            game.put_player(id, player.clone());
            return MoveOutcome::Rejected {
                update: player.update(),
                reason,
            };
        }
    };
    player.cell = Some(target);
    game.put_player(id, player.clone());
    let caught = game.food_on(target).and_then(|index| {
        // no free cell left: the food stays under the catcher until one frees up
        let to = random_empty_cell(game, rng)?;
        game.move_food(index, to);
        Some(CaughtFood { index, to })
    });
    if caught.is_some() {
        player.score += 1;
        game.put_player(id, player.clone());
    }
    MoveOutcome::Accepted {
        update: player.update(),
        caught,
    }
}

/// The verdict on player `id`, standing on `from`, asking for `requested` (rules 2-4):
/// the cell it would stand on (clamped onto the board), or why it may not. Changes
/// nothing. The server passes the board's centre as `from` for a player with no
/// position yet (rule 4).
pub fn judge_move(game: &Game, id: Uuid, from: Cell, requested: Cell) -> Result<Cell, Rejection> {
    let target = game.board.clamp(requested);
    if !from.is_king_step_to(target) {
        Err(Rejection::TooFar)
    } else if game.is_brick(target) {
        Err(Rejection::Brick)
    } else if game.player_on(target).is_some_and(|other| other != id) {
        Err(Rejection::Occupied)
    } else {
        Ok(target)
    }
}

/// Whether `cell` can take player `id`: on the board, no brick, nobody else on it.
fn is_free_for(game: &Game, id: Uuid, cell: Cell) -> bool {
    game.board.contains(cell)
        && !game.is_brick(cell)
        && game.player_on(cell).is_none_or(|other| other == id)
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    const BOARD: Board = Board::STANDARD;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn item(name: &str, x: i32, y: i32) -> Item {
        Item {
            id: Uuid::from_u128(1000 + x as u128 * 100 + y as u128),
            name: name.into(),
            cell: Cell::new(x, y),
        }
    }

    /// A small known world: a brick at (5,5), food at (6,6), player A at (4,4) and
    /// player B at (4,5), both active.
    fn world() -> Game {
        let mut g = Game::new(
            id(99),
            BOARD,
            vec![item("brick_0000", 5, 5)],
            vec![
                item("food_0000", 6, 6),
                item("food_0001", 30, 20),
                item("food_0002", 0, 0),
            ],
        );
        for (who, x, y) in [(1, 4, 4), (2, 4, 5)] {
            g.put_player(
                id(who),
                Player {
                    name: format!("p{who}"),
                    cell: Some(Cell::new(x, y)),
                    h: false,
                    generation: 0,
                    active: true,
                    score: 0,
                },
            );
        }
        g
    }

    fn request(x: Option<i32>, y: Option<i32>) -> PlayerUpdate {
        PlayerUpdate {
            x,
            y,
            h: true,
            generation: 5,
            name: "p1".into(),
        }
    }

    /// Moves player 1 of [`world`] to `(x, y)` and checks the verdict and where it ends.
    fn check(x: Option<i32>, y: Option<i32>, expected: Result<Option<(i32, i32)>, Rejection>) {
        let mut g = world();
        let outcome = apply_move(&mut g, id(1), request(x, y), &mut rng());
        let at = g.player(id(1)).unwrap().cell.unwrap();
        match (expected, outcome) {
            (Ok(None), MoveOutcome::PassedThrough(u)) => {
                assert_eq!((u.x, u.y), (x, y));
                assert_eq!(at, Cell::new(4, 4), "a null move does not move");
            }
            (Ok(Some((ex, ey))), MoveOutcome::Accepted { update, .. }) => {
                assert_eq!((update.x, update.y), (Some(ex), Some(ey)));
                assert_eq!(at, Cell::new(ex, ey));
                assert_eq!(update.generation, 5);
                assert!(update.h);
            }
            (
                Err(reason),
                MoveOutcome::Rejected {
                    update,
                    reason: got,
                },
            ) => {
                assert_eq!(got, reason, "move to {x:?},{y:?}");
                assert_eq!((update.x, update.y), (Some(4), Some(4)), "snaps back");
                assert_eq!(update.generation, 5, "generation kept from the request");
                assert_eq!(at, Cell::new(4, 4));
            }
            (expected, got) => panic!("move to {x:?},{y:?}: expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn move_validation_follows_rules_1_to_5() {
        check(None, Some(3), Ok(None)); // rule 1
        check(Some(3), None, Ok(None));
        check(Some(5), Some(4), Ok(Some((5, 4)))); // a step right
        check(Some(3), Some(3), Ok(Some((3, 3)))); // diagonal
        check(Some(4), Some(4), Ok(Some((4, 4)))); // standing still (toggling hearts)
        check(Some(6), Some(4), Err(Rejection::TooFar)); // rule 4
        check(Some(40), Some(40), Err(Rejection::TooFar)); // clamped to (38,22), still far
        check(Some(5), Some(5), Err(Rejection::Brick)); // rule 3
        check(Some(4), Some(5), Err(Rejection::Occupied));
    }

    #[test]
    fn off_board_moves_are_clamped_onto_the_edge() {
        let mut g = world();
        g.put_player(
            id(1),
            Player {
                cell: Some(Cell::new(0, 1)),
                ..g.player(id(1)).unwrap().clone()
            },
        );
        let out = apply_move(&mut g, id(1), request(Some(-1), Some(1)), &mut rng());
        match out {
            MoveOutcome::Accepted { update, .. } => {
                assert_eq!((update.x, update.y), (Some(0), Some(1)))
            }
            other => panic!("expected accepted, got {other:?}"),
        }
    }

    #[test]
    fn a_player_without_position_counts_as_standing_at_the_centre() {
        let mut g = world();
        g.put_player(
            id(3),
            Player {
                name: "p3".into(),
                cell: None,
                h: false,
                generation: 0,
                active: true,
                score: 0,
            },
        );
        let near = apply_move(&mut g, id(3), request(Some(20), Some(12)), &mut rng());
        assert!(matches!(near, MoveOutcome::Accepted { .. }), "{near:?}");
        g.put_player(
            id(4),
            Player {
                name: "p4".into(),
                cell: None,
                h: false,
                generation: 0,
                active: true,
                score: 0,
            },
        );
        let far = apply_move(&mut g, id(4), request(Some(2), Some(2)), &mut rng());
        assert!(matches!(
            far,
            MoveOutcome::Rejected {
                reason: Rejection::TooFar,
                ..
            }
        ));
    }

    #[test]
    fn catching_food_moves_it_to_an_empty_cell() {
        let mut g = world();
        apply_move(&mut g, id(1), request(Some(5), Some(4)), &mut rng());
        let out = apply_move(&mut g, id(1), request(Some(6), Some(5)), &mut rng());
        assert!(matches!(out, MoveOutcome::Accepted { caught: None, .. }));
        let out = apply_move(&mut g, id(1), request(Some(6), Some(6)), &mut rng());
        let MoveOutcome::Accepted {
            caught: Some(caught),
            ..
        } = out
        else {
            panic!("expected a catch, got {out:?}");
        };
        assert_eq!(caught.index, 0);
        assert_ne!(caught.to, Cell::new(6, 6));
        assert_eq!(g.food[0].cell, caught.to);
        assert!(!g.is_brick(caught.to));
        assert!(g.player_on(caught.to).is_none());
        assert_eq!(g.food.iter().filter(|f| f.cell == caught.to).count(), 1);
    }

    #[test]
    fn moves_from_players_who_did_not_enter_change_nothing() {
        let mut g = world();
        assert_eq!(
            apply_move(&mut g, id(42), request(Some(1), Some(1)), &mut rng()),
            MoveOutcome::NotEntered
        );
        assert!(g.player(id(42)).is_none());
        leave(&mut g, id(1));
        assert_eq!(
            apply_move(&mut g, id(1), request(Some(4), Some(3)), &mut rng()),
            MoveOutcome::NotEntered
        );
    }

    #[test]
    fn a_new_game_has_22_bricks_and_3_food_on_distinct_cells_clear_of_the_centre() {
        let g = new_game(id(1), BOARD, &mut rng());
        assert_eq!(g.bricks.len(), 22);
        assert_eq!(g.food.len(), 3);
        let mut cells: Vec<Cell> = g.bricks.iter().chain(&g.food).map(|i| i.cell).collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), 25, "every object on its own cell");
        assert!(cells.iter().all(|c| BOARD.contains(*c)));
        assert!(!cells.contains(&BOARD.centre()));
        assert_eq!(g.bricks[0].name, "brick_0000");
        assert_eq!(g.food[2].name, "food_0002");
    }

    #[test]
    fn a_returning_player_gets_its_cell_back_unless_someone_took_it() {
        let mut g = world();
        leave(&mut g, id(1));
        assert!(
            g.player_on(Cell::new(4, 4)).is_none(),
            "leaving frees the cell"
        );
        let back = enter(&mut g, id(1), "p1".into(), &mut rng()).unwrap();
        assert!(back.returning);
        assert_eq!(back.player.cell, Some(Cell::new(4, 4)));

        leave(&mut g, id(1));
        g.put_player(
            id(3),
            Player {
                name: "p3".into(),
                cell: Some(Cell::new(4, 4)),
                h: false,
                generation: 0,
                active: true,
                score: 0,
            },
        );
        let moved = enter(&mut g, id(1), "p1".into(), &mut rng()).unwrap();
        assert!(!moved.returning);
        let cell = moved.player.cell.unwrap();
        assert_ne!(cell, Cell::new(4, 4));
        assert_eq!(g.player_on(cell), Some(id(1)));
    }

    #[test]
    fn a_new_player_enters_on_an_empty_cell() {
        let mut g = world();
        let e = enter(&mut g, id(7), "p7".into(), &mut rng()).unwrap();
        assert!(!e.returning);
        let cell = e.player.cell.unwrap();
        assert!(!g.is_brick(cell) && g.food_on(cell).is_none());
        assert_eq!(g.player_on(cell), Some(id(7)));
    }

    #[test]
    fn nobody_enters_a_full_board() {
        let tiny = Board {
            half_x: 1,
            half_y: 1,
        };
        let mut g = Game::new(id(1), tiny, Vec::new(), Vec::new());
        enter(&mut g, id(2), "a".into(), &mut rng()).unwrap();
        assert_eq!(
            enter(&mut g, id(3), "b".into(), &mut rng()),
            Err(EnterError::BoardFull)
        );
    }

    #[test]
    fn judging_a_move_agrees_with_applying_it_and_changes_nothing() {
        let g = world();
        for dx in -2..=2 {
            for dy in -2..=2 {
                let requested = Cell::new(4 + dx, 4 + dy);
                let judged = judge_move(&g, id(1), Cell::new(4, 4), requested);
                let mut applied = g.clone();
                let outcome = apply_move(
                    &mut applied,
                    id(1),
                    request(Some(requested.x), Some(requested.y)),
                    &mut rng(),
                );
                match (judged, outcome) {
                    (Ok(to), MoveOutcome::Accepted { update, .. }) => {
                        assert_eq!((update.x, update.y), (Some(to.x), Some(to.y)))
                    }
                    (Err(why), MoveOutcome::Rejected { reason, .. }) => assert_eq!(why, reason),
                    (judged, outcome) => {
                        panic!("{requested:?}: judged {judged:?}, applied {outcome:?}")
                    }
                }
            }
        }
        assert_eq!(g, world(), "judging changed the game");
    }
}
