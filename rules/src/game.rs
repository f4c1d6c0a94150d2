//! The state of one game, as plain data: the board, bricks, food and players.
//!
//! Nothing here does IO or draws random numbers; the rules in the crate root change
//! this state. On the server one room task owns each game (the backend converts it to
//! and from the store's rows); in the page it is the world as the server last
//! described it, plus one's own speculative moves.

use std::collections::{HashMap, HashSet};

use protocol::{Board, Cell, PlayerUpdate, Uuid};

/// A brick or a food item: something with a fixed name that sits on one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The object's id in the store, and the `foodID` on the wire.
    pub id: Uuid,
    /// `brick_0000`, `food_0001`, ...
    pub name: String,
    /// Where it is.
    pub cell: Cell,
}

/// A player, connected or not: a returning player finds its last position here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Player {
    /// The name shown beside the spider.
    pub name: String,
    /// The last validated position; `None` until the player first entered.
    pub cell: Option<Cell>,
    /// Whether hearts are shown.
    pub h: bool,
    /// The client's move counter of the last accepted update.
    pub generation: i32,
    /// Whether the player is in the game now (inactive players do not block cells).
    pub active: bool,
    /// Food caught in this game (extension: the scoreboard).
    pub score: u32,
}

impl Player {
    /// The wire form of this player's state.
    pub fn update(&self) -> PlayerUpdate {
        PlayerUpdate {
            x: self.cell.map(|c| c.x),
            y: self.cell.map(|c| c.y),
            h: self.h,
            generation: self.generation,
            name: self.name.clone(),
        }
    }
}

/// One game. Invariant: `player_at` maps exactly the cells of active players with a
/// position, and `brick_cells` exactly the cells of `bricks`.
#[derive(Clone, Debug, PartialEq)]
pub struct Game {
    /// The game's id, the partition key in the store.
    pub id: Uuid,
    /// The grid the game is played on.
    pub board: Board,
    /// Bricks, laid once per game, in name order.
    pub bricks: Vec<Item>,
    /// The cells of `bricks`, for O(1) move validation.
    brick_cells: HashSet<Cell>,
    /// Food items, in name order; they move when caught.
    pub food: Vec<Item>,
    /// Every player the game holds, by id: active ones, and those gone and not yet
    /// forgotten (the server forgets them after a while, see `remove_player`).
    players: HashMap<Uuid, Player>,
    /// Which active player stands on which cell, for O(1) move validation.
    player_at: HashMap<Cell, Uuid>,
}

impl Game {
    /// A game with the given bricks and food and no players yet.
    pub fn new(id: Uuid, board: Board, bricks: Vec<Item>, food: Vec<Item>) -> Self {
        let brick_cells = bricks.iter().map(|b| b.cell).collect();
        Game {
            id,
            board,
            bricks,
            brick_cells,
            food,
            players: HashMap::new(),
            player_at: HashMap::new(),
        }
    }

    pub fn player(&self, id: Uuid) -> Option<&Player> {
        self.players.get(&id)
    }

    /// How many players the game holds, active or not.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// Every player the game holds (active, or gone and not yet forgotten), in no
    /// particular order.
    pub fn players(&self) -> impl Iterator<Item = (Uuid, &Player)> {
        self.players.iter().map(|(id, p)| (*id, p))
    }

    /// Up to `n` players who caught food, best first (ties: by name, then id), active
    /// or not: the scoreboard.
    pub fn top_scores(&self, n: usize) -> Vec<(Uuid, &Player)> {
        let mut scored: Vec<(Uuid, &Player)> =
            self.players().filter(|(_, p)| p.score > 0).collect();
        scored.sort_by(|(a_id, a), (b_id, b)| {
            (b.score, &a.name, a_id).cmp(&(a.score, &b.name, b_id))
        });
        scored.truncate(n);
        scored
    }

    /// Active players, in no particular order.
    pub fn active_players(&self) -> impl Iterator<Item = (Uuid, &Player)> {
        self.players
            .iter()
            .filter(|(_, p)| p.active)
            .map(|(id, p)| (*id, p))
    }

    pub fn is_brick(&self, cell: Cell) -> bool {
        self.brick_cells.contains(&cell)
    }

    /// The active player standing on `cell`, if any.
    pub fn player_on(&self, cell: Cell) -> Option<Uuid> {
        self.player_at.get(&cell).copied()
    }

    /// The index of the food item on `cell`, if any.
    pub fn food_on(&self, cell: Cell) -> Option<usize> {
        self.food.iter().position(|f| f.cell == cell)
    }

    /// A cell where nothing at all stands: no brick, no active player, no food.
    pub fn is_empty(&self, cell: Cell) -> bool {
        self.board.contains(cell)
            && !self.is_brick(cell)
            && self.player_on(cell).is_none()
            && self.food_on(cell).is_none()
    }

    /// Inserts or replaces a player, keeping the cell index right.
    pub fn put_player(&mut self, id: Uuid, player: Player) {
        if let Some(old) = self.players.get(&id) {
            // only if the cell is still ours: the page hears of moves out of order, and
            // may have put someone else there already
            if let (true, Some(cell)) = (old.active, old.cell) {
                if self.player_at.get(&cell) == Some(&id) {
                    self.player_at.remove(&cell);
                }
            }
        }
        if let (true, Some(cell)) = (player.active, player.cell) {
            self.player_at.insert(cell, id);
        }
        self.players.insert(id, player);
    }

    /// Forgets a player altogether (a player long gone: the server bounds what it
    /// holds), keeping the cell index right. Returns it, if it was there.
    pub fn remove_player(&mut self, id: Uuid) -> Option<Player> {
        let player = self.players.remove(&id)?;
        if let (true, Some(cell)) = (player.active, player.cell) {
            if self.player_at.get(&cell) == Some(&id) {
                self.player_at.remove(&cell);
            }
        }
        Some(player)
    }

    /// Moves food item `index` to `cell`.
    pub fn move_food(&mut self, index: usize, cell: Cell) {
        self.food[index].cell = cell;
    }

    /// Adds a brick, unless one is on its cell already (bricks never move; the page
    /// learns them one frame at a time).
    pub fn put_brick(&mut self, brick: Item) {
        if self.brick_cells.insert(brick.cell) {
            self.bricks.push(brick);
        }
    }

    /// Places a food item: moves the one with the same id, or adds it.
    pub fn put_food(&mut self, item: Item) {
        match self.food.iter_mut().find(|f| f.id == item.id) {
            Some(food) => *food = item,
            None => self.food.push(item),
        }
    }

    /// Takes food item `id` off the board, returning it (the page hides a fly it has just
    /// caught until the server says where the fly went).
    pub fn take_food(&mut self, id: Uuid) -> Option<Item> {
        let index = self.food.iter().position(|f| f.id == id)?;
        Some(self.food.remove(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(x: i32, y: i32) -> Player {
        Player {
            name: "p".into(),
            cell: Some(Cell::new(x, y)),
            h: false,
            generation: 0,
            active: true,
            score: 0,
        }
    }

    fn item(n: u128, x: i32, y: i32) -> Item {
        Item {
            id: Uuid::from_u128(n),
            name: format!("food_{n:04}"),
            cell: Cell::new(x, y),
        }
    }

    #[test]
    fn moves_heard_out_of_order_keep_the_cell_index_right() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut g = Game::new(Uuid::nil(), Board::STANDARD, Vec::new(), Vec::new());
        g.put_player(a, player(3, 3));
        // b moved onto (3,3) after a left it, but b's update arrives first
        g.put_player(b, player(3, 3));
        g.put_player(a, player(4, 3));
        assert_eq!(g.player_on(Cell::new(3, 3)), Some(b));
        assert_eq!(g.player_on(Cell::new(4, 3)), Some(a));
        g.put_player(
            a,
            Player {
                active: false,
                ..player(4, 3)
            },
        );
        assert_eq!(
            g.player_on(Cell::new(4, 3)),
            None,
            "inactive players block nothing"
        );
        assert_eq!(g.active_players().count(), 1);
        assert_eq!(g.players().count(), 2);
    }

    #[test]
    fn a_removed_player_frees_its_cell_and_is_no_longer_held() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut g = Game::new(Uuid::nil(), Board::STANDARD, Vec::new(), Vec::new());
        g.put_player(a, player(3, 3));
        g.put_player(b, player(4, 4));
        assert_eq!(g.remove_player(a), Some(player(3, 3)));
        assert_eq!(g.remove_player(a), None);
        assert_eq!(g.player_on(Cell::new(3, 3)), None);
        assert_eq!(g.player_on(Cell::new(4, 4)), Some(b));
        assert_eq!(g.player_count(), 1);
        assert!(g.player(a).is_none());
    }

    #[test]
    fn bricks_and_food_arrive_one_at_a_time() {
        let mut g = Game::new(Uuid::nil(), Board::STANDARD, Vec::new(), Vec::new());
        g.put_brick(item(9, 5, 5));
        g.put_brick(item(9, 5, 5));
        assert_eq!(g.bricks.len(), 1);
        assert!(g.is_brick(Cell::new(5, 5)));
        g.put_food(item(1, 1, 1));
        g.put_food(item(2, 2, 2));
        g.put_food(item(1, 7, 7));
        assert_eq!(g.food, vec![item(1, 7, 7), item(2, 2, 2)]);
        assert_eq!(g.food_on(Cell::new(1, 1)), None);
        assert_eq!(g.take_food(Uuid::from_u128(2)), Some(item(2, 2, 2)));
        assert_eq!(g.take_food(Uuid::from_u128(2)), None);
        assert_eq!(g.food_on(Cell::new(2, 2)), None);
    }
}
