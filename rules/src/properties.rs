//! Property tests of the rules: random games on random boards take random sequences of
//! entering, moving (anywhere, even off the board) and leaving; no step panics and after
//! every step the game's invariants hold. Only `rules`, `game` and `protocol` are used,
//! so this module moves with the rules wherever they go.

use proptest::prelude::*;
use protocol::{Board, Cell, PlayerUpdate, Uuid};
use rand::{rngs::StdRng, SeedableRng};

use super::{apply_move, enter, leave, new_game, MoveOutcome};
use crate::game::{Game, Item};

/// One thing a client can make the rules do.
#[derive(Clone, Debug)]
enum Step {
    Enter {
        who: u8,
        name: String,
    },
    Move {
        who: u8,
        x: Option<i32>,
        y: Option<i32>,
        h: bool,
        generation: i32,
    },
    Leave {
        who: u8,
    },
}

/// Player ids are drawn from a small pool, so the same players enter, move into each
/// other, leave and come back; on the small boards the pool fills the board.
const PLAYERS: u8 = 40;

fn step() -> impl Strategy<Value = Step> {
    let who = 0..PLAYERS;
    // mostly near the board, sometimes anywhere an i32 goes
    let coordinate = prop_oneof![
        4 => (-3..45i32).prop_map(Some),
        1 => any::<i32>().prop_map(Some),
        1 => Just(None),
    ];
    prop_oneof![
        2 => (who.clone(), any::<String>()).prop_map(|(who, name)| Step::Enter { who, name }),
        6 => (who.clone(), coordinate.clone(), coordinate, any::<bool>(), any::<i32>())
            .prop_map(|(who, x, y, h, generation)| Step::Move { who, x, y, h, generation }),
        1 => who.prop_map(|who| Step::Leave { who }),
    ]
}

/// The standard board, or a small one that crowds quickly (3 x 3 up to 11 x 11).
fn board() -> impl Strategy<Value = Board> {
    prop_oneof![
        Just(Board::STANDARD),
        (2..=6i32, 2..=6i32).prop_map(|(half_x, half_y)| Board { half_x, half_y }),
    ]
}

fn id(who: u8) -> Uuid {
    Uuid::from_u128(u128::from(who) + 1)
}

/// Checks every invariant of `game` against the bricks and food it started with.
fn check_invariants(game: &Game, bricks: &[Item], food: &[Item]) -> Result<(), TestCaseError> {
    let board = game.board;
    prop_assert_eq!(&game.bricks, bricks, "bricks never change");
    prop_assert_eq!(game.food.len(), food.len(), "the food count is constant");
    for (now, before) in game.food.iter().zip(food) {
        prop_assert_eq!((now.id, &now.name), (before.id, &before.name));
        prop_assert!(board.contains(now.cell), "food {} off the board", now.name);
        prop_assert!(!game.is_brick(now.cell), "food {} on a brick", now.name);
    }
    let mut cells = Vec::new();
    for (who, player) in game.active_players() {
        let Some(cell) = player.cell else { continue };
        prop_assert!(board.contains(cell), "player on {cell:?}, off the board");
        prop_assert!(!game.is_brick(cell), "player on a brick at {cell:?}");
        prop_assert_eq!(game.player_on(cell), Some(who), "the cell index agrees");
        cells.push(cell);
    }
    let standing = cells.len();
    cells.sort();
    cells.dedup();
    prop_assert_eq!(cells.len(), standing, "two players on one cell");
    // and the index holds nobody else: no inactive or moved player left behind in it
    let indexed = board
        .cells()
        .filter(|c| game.player_on(*c).is_some())
        .count();
    prop_assert_eq!(indexed, standing);
    Ok(())
}

/// Applies `step`, checking what the verdict of a move says against where the mover is.
fn apply(game: &mut Game, step: Step, rng: &mut StdRng) -> Result<(), TestCaseError> {
    match step {
        Step::Enter { who, name } => {
            let before = game
                .player(id(who))
                .filter(|p| p.active)
                .and_then(|p| p.cell);
            if let Ok(entered) = enter(game, id(who), name, rng) {
                prop_assert!(entered.player.active);
                if before.is_some() {
                    prop_assert_eq!(entered.player.cell, before, "entering again stays put");
                }
            }
        }
        Step::Move {
            who,
            x,
            y,
            h,
            generation,
        } => {
            let from = game.player(id(who)).and_then(|p| p.cell);
            let request = PlayerUpdate {
                x,
                y,
                h,
                generation,
                name: "p".into(),
            };
            match apply_move(game, id(who), request, rng) {
                MoveOutcome::Accepted { update, .. } => {
                    let to = Cell::new(update.x.unwrap(), update.y.unwrap());
                    let from = from.unwrap_or(game.board.centre());
                    prop_assert!(
                        from.is_king_step_to(to),
                        "{from:?} to {to:?} is no king's step"
                    );
                    prop_assert_eq!(game.player(id(who)).unwrap().cell, Some(to));
                }
                MoveOutcome::Rejected { update, .. } => {
                    prop_assert_eq!(
                        game.player(id(who)).unwrap().cell,
                        from,
                        "a rejected move stays"
                    );
                    prop_assert_eq!((update.x, update.y), (from.map(|c| c.x), from.map(|c| c.y)));
                }
                MoveOutcome::PassedThrough(_) => {
                    prop_assert_eq!(game.player(id(who)).unwrap().cell, from);
                }
                MoveOutcome::NotEntered => {
                    prop_assert!(!game.player(id(who)).is_some_and(|p| p.active));
                }
            }
        }
        Step::Leave { who } => {
            let was_active = game.player(id(who)).is_some_and(|p| p.active);
            prop_assert_eq!(leave(game, id(who)).is_some(), was_active);
            prop_assert!(game.player(id(who)).is_none_or(|p| !p.active));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_play_keeps_every_invariant(
        board in board(),
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut game = new_game(Uuid::from_u128(0), board, &mut rng);
        let (bricks, food) = (game.bricks.clone(), game.food.clone());
        check_invariants(&game, &bricks, &food)?;
        for step in steps {
            apply(&mut game, step, &mut rng)?;
            check_invariants(&game, &bricks, &food)?;
        }
    }
}
