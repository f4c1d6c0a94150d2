//! One bot's picture of the board: bricks from its brief, other players from their
//! updates. It is what lets a bot choose valid moves; it never tracks the bot itself.
//!
//! Every bot hears every update, hundreds of thousands a second in all, but moves only a
//! few times a second: so an update is one store into a flat array, and the work of
//! finding free cells is done when the bot moves, by scanning where everyone stands.

use std::collections::HashMap;

use protocol::{Board, Cell, Uuid};
use rand::seq::SliceRandom;
use rand::Rng;

/// Another player, as a bot knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Other {
    /// A fellow bot of this run, by roster index (the cheap, common case).
    Bot(usize),
    /// A player this run did not create (a browser, another generator).
    Stranger(Uuid),
}

/// Bricks and other players on the board.
pub struct Field {
    /// The board's size, from the brief's geometry (the standard board until then).
    board: Board,
    /// Whether each cell (row by row) holds a brick.
    bricks: Vec<bool>,
    /// Where each fellow bot was last seen.
    bots: Vec<Option<Cell>>,
    /// Where each stranger was last seen.
    strangers: HashMap<Uuid, Cell>,
}

impl Field {
    pub fn new(bots: usize) -> Self {
        let board = Board::STANDARD;
        Field {
            board,
            bricks: vec![false; board.cell_count()],
            bots: vec![None; bots],
            strangers: HashMap::new(),
        }
    }

    pub fn board(&self) -> Board {
        self.board
    }

    /// Adopts the board of the brief's geometry; bricks are forgotten (the brief lists
    /// them next), players are kept.
    pub fn set_board(&mut self, board: Board) {
        self.board = board;
        self.bricks = vec![false; board.cell_count()];
    }

    fn index(&self, cell: Cell) -> Option<usize> {
        self.board
            .contains(cell)
            .then(|| (cell.y * self.board.width() + cell.x) as usize)
    }

    pub fn add_brick(&mut self, cell: Cell) {
        if let Some(i) = self.index(cell) {
            self.bricks[i] = true;
        }
    }

    /// Records that `who` now stands on `cell`.
    pub fn place(&mut self, who: Other, cell: Cell) {
        match who {
            Other::Bot(i) => {
                if let Some(slot) = self.bots.get_mut(i) {
                    *slot = Some(cell);
                }
            }
            Other::Stranger(id) => {
                self.strangers.insert(id, cell);
            }
        }
    }

    /// Records that `who` left the game.
    pub fn remove(&mut self, who: Other) {
        match who {
            Other::Bot(i) => {
                if let Some(slot) = self.bots.get_mut(i) {
                    *slot = None;
                }
            }
            Other::Stranger(id) => {
                self.strangers.remove(&id);
            }
        }
    }

    /// Every cell another player stands on.
    fn players(&self) -> impl Iterator<Item = Cell> + '_ {
        self.bots
            .iter()
            .flatten()
            .chain(self.strangers.values())
            .copied()
    }

    /// Whether a player may step onto `cell` as far as this bot knows (rule 3).
    pub fn is_free(&self, cell: Cell) -> bool {
        self.index(cell).is_some_and(|i| !self.bricks[i]) && self.players().all(|p| p != cell)
    }

    /// A random valid one-step move from `from`: a king's step onto a free cell, or
    /// standing still when boxed in.
    pub fn choose_step(&self, from: Cell, rng: &mut impl Rng) -> Cell {
        // the 3 x 3 square around `from`, row by row; the centre is `from` itself
        let mut taken = [false; 9];
        taken[4] = true;
        for p in self.players() {
            let (dx, dy) = (p.x - from.x, p.y - from.y);
            if dx.abs() <= 1 && dy.abs() <= 1 {
                taken[((dy + 1) * 3 + dx + 1) as usize] = true;
            }
        }
        let mut steps: [Cell; 8] = [from; 8];
        let mut n = 0;
        for (i, taken) in taken.iter().enumerate() {
            let to = Cell::new(from.x + i as i32 % 3 - 1, from.y + i as i32 / 3 - 1);
            let on_board_and_no_brick = self.index(to).is_some_and(|c| !self.bricks[c]);
            if !taken && on_board_and_no_brick {
                steps[n] = to;
                n += 1;
            }
        }
        steps[..n].choose(rng).copied().unwrap_or(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_chosen_step_avoids_bricks_players_and_the_edge() {
        let mut field = Field::new(2);
        // corner (0, 0): neighbours on the board are (1,0), (0,1), (1,1)
        field.add_brick(Cell::new(1, 0));
        field.place(Other::Bot(1), Cell::new(0, 1));
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..50 {
            assert_eq!(
                field.choose_step(Cell::new(0, 0), &mut rng),
                Cell::new(1, 1)
            );
        }
    }

    #[test]
    fn a_boxed_in_bot_stands_still_and_a_player_who_moves_on_frees_its_cell() {
        let mut field = Field::new(1);
        let stranger = Uuid::new_v4();
        field.add_brick(Cell::new(1, 0));
        field.add_brick(Cell::new(0, 1));
        field.place(Other::Stranger(stranger), Cell::new(1, 1));
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(
            field.choose_step(Cell::new(0, 0), &mut rng),
            Cell::new(0, 0)
        );
        field.place(Other::Stranger(stranger), Cell::new(2, 2));
        assert!(field.is_free(Cell::new(1, 1)));
        assert!(!field.is_free(Cell::new(2, 2)));
        field.remove(Other::Stranger(stranger));
        assert!(field.is_free(Cell::new(2, 2)));
    }

    #[test]
    fn a_new_board_keeps_the_players_but_not_the_bricks() {
        let mut field = Field::new(1);
        field.add_brick(Cell::new(3, 3));
        field.place(Other::Bot(0), Cell::new(4, 4));
        field.set_board(Board {
            half_x: 5,
            half_y: 5,
        });
        assert!(field.is_free(Cell::new(3, 3)));
        assert!(!field.is_free(Cell::new(4, 4)));
        assert!(!field.is_free(Cell::new(9, 0)), "off the 9 x 9 board");
    }
}
