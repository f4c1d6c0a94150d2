//! A game as the store's rows, and back: one row per brick, food item and player that
//! ever had a position (the reference's `objects_by_game_id`).
//!
//! An extension trait on the `rules` crate's [`Game`], which knows nothing of the store;
//! the conversions live here because they must know both the rows and the state's
//! invariants (a loaded game has nobody connected).

use protocol::{Board, Cell, Uuid};

use crate::store::{ObjectKind, StoredObject};
use rules::game::{Game, Item, Player};

/// Converting a [`Game`] to and from [`StoredObject`] rows.
pub trait GameRows: Sized {
    /// Rebuilds a game from the store's rows. Returns `None` when the rows do not hold a
    /// playable game (no food: it was never laid, or the rows are not ours).
    fn restore(id: Uuid, board: Board, rows: &[StoredObject]) -> Option<Self>;
    /// The store row of a brick or food item.
    fn item_row(kind: ObjectKind, item: &Item) -> StoredObject;
    /// The store row of a player; `None` for a player that never had a position.
    fn player_row(&self, id: Uuid) -> Option<StoredObject>;
    /// Every row that describes this game now.
    fn rows(&self) -> Vec<StoredObject>;
}

impl GameRows for Game {
    fn restore(id: Uuid, board: Board, rows: &[StoredObject]) -> Option<Self> {
        let items = |kind| {
            let mut items: Vec<Item> = rows
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| Item {
                    id: r.object_id,
                    name: r.name.clone(),
                    cell: board.clamp(Cell::new(r.x, r.y)),
                })
                .collect();
            items.sort_by(|a, b| a.name.cmp(&b.name));
            items
        };
        let food = items(ObjectKind::Food);
        if food.is_empty() {
            return None;
        }
        let mut game = Game::new(id, board, items(ObjectKind::Brick), food);
        for row in rows.iter().filter(|r| r.kind == ObjectKind::Player) {
            let player = Player {
                name: row.name.clone(),
                cell: Some(board.clamp(Cell::new(row.x, row.y))),
                h: row.h,
                generation: row.generation,
                // nobody is connected to a game that was just loaded
                active: false,
                score: row.score,
            };
            game.put_player(row.object_id, player);
        }
        Some(game)
    }

    fn item_row(kind: ObjectKind, item: &Item) -> StoredObject {
        StoredObject {
            kind,
            object_id: item.id,
            active: true,
            x: item.cell.x,
            y: item.cell.y,
            h: false,
            generation: 0,
            name: item.name.clone(),
            score: 0,
            expires_ms: None,
            token_hash: None,
        }
    }

    fn player_row(&self, id: Uuid) -> Option<StoredObject> {
        let p = self.player(id)?;
        let cell = p.cell?;
        Some(StoredObject {
            kind: ObjectKind::Player,
            object_id: id,
            active: p.active,
            x: cell.x,
            y: cell.y,
            h: p.h,
            generation: p.generation,
            name: p.name.clone(),
            score: p.score,
            expires_ms: None,
            token_hash: None,
        })
    }

    fn rows(&self) -> Vec<StoredObject> {
        let bricks = self
            .bricks
            .iter()
            .map(|b| Self::item_row(ObjectKind::Brick, b));
        let food = self
            .food
            .iter()
            .map(|f| Self::item_row(ObjectKind::Food, f));
        let players = self.players().filter_map(|(id, _)| self.player_row(id));
        bricks.chain(food).chain(players).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use rules;

    #[test]
    fn a_game_survives_a_round_trip_through_store_rows() {
        let (id, board) = (Uuid::from_u128(1), Board::STANDARD);
        let mut rng = StdRng::seed_from_u64(7);
        let mut g = rules::new_game(id, board, &mut rng);
        rules::enter(&mut g, Uuid::from_u128(2), "p2".into(), &mut rng).unwrap();
        let mut p2 = g.player(Uuid::from_u128(2)).unwrap().clone();
        p2.score = 3;
        g.put_player(Uuid::from_u128(2), p2);
        let rows = g.rows();
        let back = Game::restore(id, board, &rows).expect("restorable");
        assert_eq!(back.bricks, g.bricks);
        assert_eq!(back.food, g.food);
        let p = back.player(Uuid::from_u128(2)).unwrap();
        assert_eq!(p.cell, g.player(Uuid::from_u128(2)).unwrap().cell);
        assert!(!p.active, "restored players wait to enter again");
        assert_eq!(p.score, 3, "the scoreboard survives");
        assert!(Game::restore(id, board, &[]).is_none());
    }
}
