//! One bot's picture of the board: bricks from its brief, other players from their
//! updates. It is what lets a bot choose valid moves; it never tracks the bot itself.

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
    /// How many other players stand on each cell.
    occupied: Vec<u16>,
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
            occupied: vec![0; board.cell_count()],
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
        self.occupied = vec![0; board.cell_count()];
        let cells: Vec<Cell> = self
            .bots
            .iter()
            .flatten()
            .chain(self.strangers.values())
            .copied()
            .collect();
        for cell in cells {
            self.occupy(cell, 1);
        }
    }

    fn index(&self, cell: Cell) -> Option<usize> {
        self.board
            .contains(cell)
            .then(|| (cell.y * self.board.width() + cell.x) as usize)
    }

    fn occupy(&mut self, cell: Cell, delta: i32) {
        if let Some(i) = self.index(cell) {
            self.occupied[i] = (i32::from(self.occupied[i]) + delta).max(0) as u16;
        }
    }

    pub fn add_brick(&mut self, cell: Cell) {
        if let Some(i) = self.index(cell) {
            self.bricks[i] = true;
        }
    }

    /// Records that `who` now stands on `cell`.
    pub fn place(&mut self, who: Other, cell: Cell) {
        let old = match who {
            Other::Bot(i) => self.bots.get_mut(i).and_then(|slot| slot.replace(cell)),
            Other::Stranger(id) => self.strangers.insert(id, cell),
        };
        if let Some(old) = old {
            self.occupy(old, -1);
        }
        self.occupy(cell, 1);
    }

    /// Records that `who` left the game.
    pub fn remove(&mut self, who: Other) {
        let old = match who {
            Other::Bot(i) => self.bots.get_mut(i).and_then(Option::take),
            Other::Stranger(id) => self.strangers.remove(&id),
        };
        if let Some(old) = old {
            self.occupy(old, -1);
        }
    }

    /// Whether a player may step onto `cell` as far as this bot knows (rule 3).
    pub fn is_free(&self, cell: Cell) -> bool {
        self.index(cell)
            .is_some_and(|i| !self.bricks[i] && self.occupied[i] == 0)
    }

    /// A random valid one-step move from `from`: a king's step onto a free cell, or
    /// standing still when boxed in.
    pub fn choose_step(&self, from: Cell, rng: &mut impl Rng) -> Cell {
        let mut steps: [Cell; 8] = [from; 8];
        let mut n = 0;
        for dx in -1..=1 {
            for dy in -1..=1 {
                let to = Cell::new(from.x + dx, from.y + dy);
                if (dx, dy) != (0, 0) && self.is_free(to) {
                    steps[n] = to;
                    n += 1;
                }
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
