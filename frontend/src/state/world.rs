//! The world as the page knows it: the board, bricks, flies and every spider the server
//! told us about, with our own spider where our latest move put it.
//!
//! Our own moves are speculative (`prediction`): the page judges each with the server's
//! own rules (the `rules` crate) against the world as it knows it, shows it at once if
//! they allow it, and sends it; a move into a brick, off the board or onto a spider it
//! knows about is never shown. Only a true race (someone got there first) brings a
//! correction from the server, which the field glides to like any move. Which way each
//! spider faces is kept in `heading`.

mod heading;
mod prediction;

use std::collections::HashMap;

use protocol::{Board, Cell, ObjectPayload, PlayerUpdate, ScorePayload, Uuid};
use rules::{Game, Item, Player};

/// How many players the scoreboard lists.
pub const SCOREBOARD_LINES: usize = 5;

/// The world, and our moves on it that the server has not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// The world as the server last described it (board, bricks, flies, every active
    /// spider by id, so that one board of 800+ players costs O(1) per update), with our
    /// own spider where our latest move put it. Bricks carry no id on the wire: theirs
    /// is nil.
    pub known: Game,
    /// Which way each spider faces (ours too), by player id: degrees clockwise from up,
    /// the way it last moved. Not wrapped to 0..360, so that a turn always animates the
    /// short way round.
    pub headings: HashMap<Uuid, i32>,
    /// Flies our moves caught that the server has not placed anew yet: hidden from the
    /// field at once, put back if the server corrects our position instead.
    pub caught: Vec<Item>,
    /// Our move counter: sent with every `player` frame, then incremented. An update
    /// about us older than `generation - 1` is stale.
    pub generation: i32,
}

impl World {
    /// A world with nothing on `board` yet, before our first move.
    pub fn new(board: Board) -> Self {
        World {
            known: empty_world(board),
            headings: HashMap::new(),
            caught: Vec::new(),
            generation: 0,
        }
    }

    /// Forgets everything on the board (leaving, or entering again: the server briefs
    /// us anew). The move counter goes on, so no later move of ours looks stale.
    pub fn clear(&mut self) {
        self.known = empty_world(self.known.board);
        self.headings.clear();
        self.caught.clear();
    }

    /// The board's size, from the server's `geometry`.
    pub fn board(&self) -> Board {
        self.known.board
    }

    /// The server's `geometry`: on a board of another size, the brief that follows
    /// describes the whole world anew.
    pub fn set_board(&mut self, board: Board) {
        if board != self.known.board {
            self.known = empty_world(board);
        }
    }

    /// Our spider (`me`), once the server placed it.
    pub fn own_player(&self, me: Uuid) -> Option<&Player> {
        self.known.player(me).filter(|p| p.cell.is_some())
    }

    /// Every spider but ours (`me`) with a position, in no particular order.
    pub fn others(&self, me: Uuid) -> impl Iterator<Item = (Uuid, &Player)> {
        self.known
            .active_players()
            .filter(move |(id, p)| *id != me && p.cell.is_some())
    }

    /// The players with the best scores, best first (see [`rules::Game::top_scores`]).
    pub fn top_scores(&self) -> Vec<(Uuid, &Player)> {
        self.known.top_scores(SCOREBOARD_LINES)
    }

    /// An update about another spider: it applies whatever its generation.
    pub fn receive_other(&mut self, id: Uuid, update: PlayerUpdate) {
        let known = self.known.player(id);
        let (known_cell, score) = (known.and_then(|p| p.cell), known.map_or(0, |p| p.score));
        // a position-less update (rule 1) leaves a spider where it was, as the server does
        let cell = update.x.zip(update.y).map(|(x, y)| Cell::new(x, y));
        if let (Some(from), Some(to)) = (known_cell, cell) {
            self.turn(id, from, to);
        }
        let player = Player {
            cell: cell.or(known_cell),
            h: update.h,
            generation: update.generation,
            name: update.name,
            active: true,
            score,
        };
        self.known.put_player(id, player);
    }

    /// A brick, in a brief.
    pub fn put_brick(&mut self, brick: ObjectPayload) {
        self.known.put_brick(Item {
            id: Uuid::nil(),
            cell: Cell::new(brick.x, brick.y),
            name: brick.name,
        });
    }

    /// A fly, in a brief or placed anew after a catch (then it is no longer ours).
    pub fn put_food(&mut self, id: Uuid, fly: ObjectPayload) {
        self.caught.retain(|f| f.id != id);
        self.known.put_food(Item {
            id,
            cell: Cell::new(fly.x, fly.y),
            name: fly.name,
        });
    }

    /// Another spider left.
    pub fn remove(&mut self, id: Uuid) {
        rules::leave(&mut self.known, id);
        self.headings.remove(&id);
    }

    /// A player's score: kept on its entry in the world, which a player we have not
    /// seen on the field (a top scorer who left) gets without a position. Scores only
    /// grow, so a late frame never lowers one; our own score counts our catches at once.
    pub fn score(&mut self, id: Uuid, payload: ScorePayload) {
        let player = match self.known.player(id) {
            Some(p) if p.score >= payload.score => return,
            Some(p) => Player {
                score: payload.score,
                ..p.clone()
            },
            None => Player {
                name: payload.name,
                cell: None,
                h: false,
                generation: 0,
                active: false,
                score: payload.score,
            },
        };
        self.known.put_player(id, player);
    }
}

/// A world with nothing on `board` yet.
fn empty_world(board: Board) -> Game {
    Game::new(Uuid::nil(), board, Vec::new(), Vec::new())
}

#[cfg(test)]
mod tests {
    use crate::state::testing::*;
    use crate::state::{Action, Socket};
    use protocol::{Cell, Uuid};

    #[test]
    fn updates_about_others_always_apply_whatever_their_generation() {
        let mut s = placed();
        for _ in 0..5 {
            s.apply(Action::Step { dx: -1, dy: 0 });
        }
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 9));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 0));
        assert_eq!(s.others().count(), 1);
        assert_eq!(
            s.world.known.player(OTHER).unwrap().cell,
            Some(Cell::new(2, 4))
        );
        assert_eq!(s.own(), Some(Cell::new(5, 10)));
    }

    #[test]
    fn leaving_removes_the_player_and_food_moves() {
        let mut s = placed();
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        let food = "6f1a4a5e-0000-4000-8000-0000000000f0";
        receive(
            &mut s,
            Socket::World,
            &format!(
                r#"{{"messageType":"food","foodID":"{food}","payload":{{"x":1,"y":2,"name":"food_0000"}}}}"#
            ),
        );
        receive(
            &mut s,
            Socket::World,
            &format!(
                r#"{{"messageType":"leaving","playerID":"{OTHER}","payload":{{"name":"n"}}}}"#
            ),
        );
        assert_eq!(s.others().count(), 0);
        let flies: Vec<(Uuid, Cell)> = s.world.known.food.iter().map(|f| (f.id, f.cell)).collect();
        assert_eq!(flies, vec![(food.parse().unwrap(), Cell::new(1, 2))]);
    }

    #[test]
    fn the_scoreboard_lists_the_best_first_and_counts_our_catch_at_once() {
        let mut s = placed();
        let gone = Uuid::from_u128(77);
        receive(&mut s, Socket::Player, &score_frame(gone, "Gone", 3));
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 1));
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own_player().unwrap().score, 1, "our catch counts at once");
        // the server confirms; a late, lower frame never lowers a score
        receive(&mut s, Socket::World, &score_frame(ME, "Argiope", 1));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 2));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 1));
        let board: Vec<(Uuid, u32)> = s
            .world
            .top_scores()
            .iter()
            .map(|(id, p)| (*id, p.score))
            .collect();
        assert_eq!(board, vec![(gone, 3), (OTHER, 2), (ME, 1)]);
        assert_eq!(
            s.others().count(),
            1,
            "a scorer not on the field is not drawn"
        );
        // OTHER moving keeps its score
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 5, 1));
        assert_eq!(s.world.known.player(OTHER).unwrap().score, 2);
    }
}
