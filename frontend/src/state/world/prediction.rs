//! Our own moves, shown before the server answers: each step is judged by the server's
//! rules on what we know and counted by the generation counter; the server's updates
//! about us confirm it, are stale echoes of moves we have overtaken, or correct us after
//! a race we lost.

use protocol::{Cell, PlayerUpdate, Uuid};
use rules::Player;

use super::World;
use crate::state::Socket;

impl World {
    /// One king's step of our spider (`me`), judged by the server's rules on what we
    /// know: a step into a brick or onto a spider is refused, one off the board is
    /// clamped back onto our own cell; either way nothing shows and false is returned:
    /// nothing is to be sent (the server would refuse or ignore it). An allowed step
    /// shows at once, with the fly it catches; true then: the move is to be sent
    /// ([`World::own_move`]).
    pub fn step(&mut self, me: Uuid, dx: i32, dy: i32) -> bool {
        let Some(mut own) = self.own_player(me).cloned() else {
            return false;
        };
        let Some(from) = own.cell else { return false };
        let requested = Cell::new(from.x + dx.signum(), from.y + dy.signum());
        let Ok(to) = rules::judge_move(&self.known, me, from, requested) else {
            return false;
        };
        if to == from {
            return false;
        }
        self.turn(me, from, to);
        own.cell = Some(to);
        if let Some(index) = self.known.food_on(to) {
            // the server moves a caught fly to a random cell and tells everyone; until
            // then it is ours, off the field, and counts for our score
            self.caught.push(self.known.food.remove(index));
            own.score += 1;
        }
        self.known.put_player(me, own);
        true
    }

    /// Shows or hides our hearts, which counts as a move (true: to be sent); not before
    /// the server placed us.
    pub fn toggle_hearts(&mut self, me: Uuid) -> bool {
        let Some(mut own) = self.own_player(me).cloned() else {
            return false;
        };
        own.h = !own.h;
        self.known.put_player(me, own);
        true
    }

    /// The `player` frame saying where our spider (`me`, named `name`) now stands (in
    /// [`World::known`]), counting the move; none before the server placed us.
    pub fn own_move(&mut self, me: Uuid, name: &str) -> Option<PlayerUpdate> {
        let own = self.own_player(me)?;
        let update = PlayerUpdate {
            generation: self.generation,
            name: name.into(),
            ..own.update()
        };
        self.generation += 1;
        Some(update)
    }

    /// An update about ourselves (`me`, named `name`). Our start position (the first one
    /// after entering) always applies. After that, an update of the world stream older
    /// than `generation - 1` is the echo of a move we have already overtaken: applying
    /// it would make our spider jump back. Direct replies (objects) only carry answers
    /// (the start position), which always apply. An update that puts us elsewhere than
    /// we thought is the server's correction after a race: the flies we thought caught
    /// go back until the server says otherwise.
    pub fn receive_own(&mut self, me: Uuid, name: &str, socket: Socket, update: PlayerUpdate) {
        let Some((x, y)) = update.x.zip(update.y) else {
            return;
        };
        let own = self.own_player(me).cloned();
        if own.is_some() && socket == Socket::World && update.generation < self.generation - 1 {
            return;
        }
        let to = Cell::new(x, y);
        let (hearts, mut score) = match &own {
            Some(own) => (own.h, own.score),
            None => (update.h, self.known.player(me).map_or(0, |p| p.score)),
        };
        if let Some(from) = own.and_then(|p| p.cell) {
            self.turn(me, from, to);
            if from != to {
                for fly in std::mem::take(&mut self.caught) {
                    self.known.put_food(fly);
                    score = score.saturating_sub(1);
                }
            }
        }
        let player = Player {
            cell: Some(to),
            h: hearts,
            generation: update.generation,
            name: name.into(),
            active: true,
            score,
        };
        self.known.put_player(me, player);
        // never count below what the server has seen, or our next moves would look stale
        self.generation = self.generation.max(update.generation + 1);
    }
}

#[cfg(test)]
mod tests {
    use crate::state::testing::*;
    use crate::state::{Action, Socket};
    use protocol::{Cell, Uuid};

    #[test]
    fn a_step_moves_at_once_and_sends_the_current_generation() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
        assert_eq!(
            s.debug.last_sent,
            r#"{"messageType":"player","payload":{"x":11,"y":10,"h":false,"generation":1,"name":"Argiope"}}"#
        );
        assert_eq!(s.world.generation, 2);
    }

    #[test]
    fn a_stale_update_about_oneself_does_not_move_one_back() {
        let mut s = placed();
        for _ in 0..3 {
            s.apply(Action::Step { dx: 1, dy: 0 });
        }
        // we sent generations 1, 2, 3 and stand at (13, 10); generation is now 4
        assert_eq!((s.own(), s.world.generation), (Some(Cell::new(13, 10)), 4));
        // the echo of generation 1 arrives late: older than generation - 1 = 3
        receive(&mut s, Socket::World, &player_frame(ME, 11, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(13, 10)));
        receive(&mut s, Socket::World, &player_frame(ME, 12, 10, 2));
        assert_eq!(s.own(), Some(Cell::new(13, 10)));
    }

    #[test]
    fn the_update_for_the_latest_move_corrects_the_position() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::Step { dx: 1, dy: 0 });
        // generation is 3; the server moved us somewhere else for generation 2
        receive(&mut s, Socket::World, &player_frame(ME, 11, 11, 2));
        assert_eq!(s.own(), Some(Cell::new(11, 11)));
    }

    #[test]
    fn a_snap_back_on_the_player_socket_always_applies() {
        let mut s = placed();
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
    }

    #[test]
    fn steps_into_bricks_others_or_off_the_board_are_not_sent() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"brick","payload":{"x":11,"y":10,"name":"brick_0000"}}"#,
        );
        receive(&mut s, Socket::World, &player_frame(OTHER, 9, 10, 0));
        let before = s.clone();
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::Step { dx: -1, dy: 0 });
        assert_eq!(s, before);
        let mut corner = placed();
        receive(&mut corner, Socket::Player, &player_frame(ME, 0, 0, 0));
        let before = corner.clone();
        corner.apply(Action::Step { dx: -1, dy: -1 });
        assert_eq!(corner, before);
    }

    #[test]
    fn hearts_toggle_is_a_player_frame_that_counts_as_a_move() {
        let mut s = placed();
        s.apply(Action::ToggleHearts);
        assert!(s.own_player().unwrap().h);
        assert!(s.debug.last_sent.contains(r#""h":true,"generation":1"#));
        assert_eq!(s.world.generation, 2);
    }

    #[test]
    fn a_step_onto_a_fly_catches_it_at_once_until_the_server_places_it_anew() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
        assert!(
            s.world.known.food.is_empty(),
            "the caught fly is off the field"
        );
        assert_eq!(s.world.caught.len(), 1);
        // the echo of our move, then the fly's new place, as the server publishes them
        receive(&mut s, Socket::World, &player_frame(ME, 11, 10, 1));
        receive(&mut s, Socket::World, &food_frame(FLY, 30, 3));
        assert!(s.world.caught.is_empty());
        assert_eq!(s.world.known.food_on(Cell::new(30, 3)), Some(0));
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
    }

    #[test]
    fn a_lost_race_is_corrected_by_the_server_and_puts_the_fly_back() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        // someone we had not heard of yet got to (11, 10) first: the server refuses our
        // move (generation 1) and says where we still stand
        receive(&mut s, Socket::World, &player_frame(OTHER, 11, 10, 0));
        receive(&mut s, Socket::World, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
        assert_eq!(
            s.world.known.food_on(Cell::new(11, 10)),
            Some(0),
            "the fly is back"
        );
        assert!(s.world.caught.is_empty());
        assert_eq!(s.world.known.player_on(Cell::new(11, 10)), Some(OTHER));
        assert_eq!(s.world.known.player_on(Cell::new(10, 10)), Some(ME));
    }

    #[test]
    fn a_lost_race_takes_back_the_catch_from_our_score() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own_player().unwrap().score, 1);
        receive(&mut s, Socket::World, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own_player().unwrap().score, 0);
    }

    #[test]
    fn a_board_of_850_spiders_is_kept_by_id_and_judged_against() {
        let mut s = placed();
        let mut n = 0u128;
        'fill: for y in 0..s.world.board().height() {
            for x in 0..s.world.board().width() {
                if n == 850 {
                    break 'fill;
                }
                if (x - 10).abs() <= 1 && (y - 10).abs() <= 1 {
                    continue;
                }
                n += 1;
                receive(
                    &mut s,
                    Socket::World,
                    &player_frame(Uuid::from_u128(n), x, y, 0),
                );
            }
        }
        receive(
            &mut s,
            Socket::World,
            &player_frame(Uuid::from_u128(850), 11, 10, 1),
        );
        assert_eq!(s.others().count(), 850);
        let before = s.clone();
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s, before, "a step onto a spider is not taken");
        s.apply(Action::Step { dx: -1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(9, 10)));
    }
}
