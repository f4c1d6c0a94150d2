//! The state of one game, as plain data: the board, bricks, food and players.
//!
//! Nothing here does IO or draws random numbers; [`crate::rules`] changes this state,
//! the room task owns it. Conversions to and from the store's rows live here too, since
//! they must know the state's invariants.

use std::collections::{HashMap, HashSet};

use protocol::{Board, Cell, PlayerUpdate, Uuid};

use crate::store::{ObjectKind, StoredObject};

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
#[derive(Clone, Debug)]
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
    /// Every player ever seen in this game, by id.
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
            if let (true, Some(cell)) = (old.active, old.cell) {
                self.player_at.remove(&cell);
            }
        }
        if let (true, Some(cell)) = (player.active, player.cell) {
            self.player_at.insert(cell, id);
        }
        self.players.insert(id, player);
    }

    /// Moves food item `index` to `cell`.
    pub fn move_food(&mut self, index: usize, cell: Cell) {
        self.food[index].cell = cell;
    }

    /// Rebuilds a game from the store's rows. Returns `None` when the rows do not hold a
    /// playable game (no food: it was never laid, or the rows are not ours).
    pub fn restore(id: Uuid, board: Board, rows: &[StoredObject]) -> Option<Self> {
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
            };
            game.put_player(row.object_id, player);
        }
        Some(game)
    }

    /// The store row of a brick or food item.
    pub fn item_row(kind: ObjectKind, item: &Item) -> StoredObject {
        StoredObject {
            kind,
            object_id: item.id,
            active: true,
            x: item.cell.x,
            y: item.cell.y,
            h: false,
            generation: 0,
            name: item.name.clone(),
        }
    }

    /// The store row of a player; `None` for a player that never had a position.
    pub fn player_row(&self, id: Uuid) -> Option<StoredObject> {
        let p = self.players.get(&id)?;
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
        })
    }

    /// Every row that describes this game now.
    pub fn rows(&self) -> Vec<StoredObject> {
        let bricks = self
            .bricks
            .iter()
            .map(|b| Self::item_row(ObjectKind::Brick, b));
        let food = self
            .food
            .iter()
            .map(|f| Self::item_row(ObjectKind::Food, f));
        let players = self.players.keys().filter_map(|id| self.player_row(*id));
        bricks.chain(food).chain(players).collect()
    }
}
