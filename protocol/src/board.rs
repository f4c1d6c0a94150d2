//! Board geometry: which cells exist and where a player starts.

use serde::{Deserialize, Serialize};

/// One cell of the grid, `x` in `0..width`, `y` in `0..height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    /// Column, 0 at the left.
    pub x: i32,
    /// Row, 0 at the top.
    pub y: i32,
}

impl Cell {
    pub const fn new(x: i32, y: i32) -> Self {
        Self { x, y }
    }

    /// Whether `other` is at most one king's step away (or the same cell).
    pub fn is_king_step_to(self, other: Cell) -> bool {
        (self.x - other.x).abs() <= 1 && (self.y - other.y).abs() <= 1
    }
}

/// The grid, described as the reference does by its half sizes: a board of
/// `2*half_x-1` by `2*half_y-1` cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Half the width, rounded up; the wire's `halfSizeX`.
    pub half_x: i32,
    /// Half the height, rounded up; the wire's `halfSizeY`.
    pub half_y: i32,
}

impl Board {
    /// The reference game's board: 39 x 23 cells.
    pub const STANDARD: Board = Board {
        half_x: 20,
        half_y: 12,
    };

    pub const fn width(self) -> i32 {
        2 * self.half_x - 1
    }

    pub const fn height(self) -> i32 {
        2 * self.half_y - 1
    }

    pub const fn cell_count(self) -> usize {
        (self.width() * self.height()) as usize
    }

    /// Where a player with no known position counts as standing (rule 4).
    pub const fn centre(self) -> Cell {
        Cell::new(self.half_x - 1, self.half_y - 1)
    }

    pub fn contains(self, cell: Cell) -> bool {
        (0..self.width()).contains(&cell.x) && (0..self.height()).contains(&cell.y)
    }

    /// The nearest cell on the board (rule 2).
    pub fn clamp(self, cell: Cell) -> Cell {
        Cell::new(
            cell.x.clamp(0, self.width() - 1),
            cell.y.clamp(0, self.height() - 1),
        )
    }

    /// Every cell, row by row.
    pub fn cells(self) -> impl Iterator<Item = Cell> {
        (0..self.height()).flat_map(move |y| (0..self.width()).map(move |x| Cell::new(x, y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_board_is_39_by_23_with_centre_19_11() {
        let b = Board::STANDARD;
        assert_eq!((b.width(), b.height()), (39, 23));
        assert_eq!(b.centre(), Cell::new(19, 11));
        assert_eq!(b.cells().count(), 39 * 23);
    }

    #[test]
    fn clamp_pulls_outside_cells_onto_the_edge() {
        let b = Board::STANDARD;
        for (input, expected) in [
            ((-5, -1), (0, 0)),
            ((40, 30), (38, 22)),
            ((38, 22), (38, 22)),
            ((10, -1), (10, 0)),
        ] {
            let got = b.clamp(Cell::new(input.0, input.1));
            assert_eq!(got, Cell::new(expected.0, expected.1), "clamp {input:?}");
            assert!(b.contains(got));
        }
    }

    #[test]
    fn king_step_allows_diagonals_and_standing_still_only() {
        let c = Cell::new(5, 5);
        assert!(c.is_king_step_to(Cell::new(6, 6)));
        assert!(c.is_king_step_to(Cell::new(5, 5)));
        assert!(!c.is_king_step_to(Cell::new(7, 5)));
        assert!(!c.is_king_step_to(Cell::new(5, 3)));
    }
}
