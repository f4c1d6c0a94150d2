//! Which way the spiders face: the way each last moved, turned the short way round.

use protocol::{Cell, Uuid};

use super::World;

impl World {
    /// Which way spider `id` faces, in degrees (see [`World::headings`]).
    pub fn heading(&self, id: Uuid) -> i32 {
        self.headings.get(&id).copied().unwrap_or(0)
    }

    /// Turns spider `id` the way it goes from `from` to `to`, the short way round;
    /// standing still keeps its heading.
    pub(super) fn turn(&mut self, id: Uuid, from: Cell, to: Cell) {
        let old = self.heading(id);
        self.headings.insert(id, turn(old, from, to));
    }
}

/// The heading after going from `from` to `to`, turning the short way round from `old`
/// (degrees clockwise from up, not wrapped); `old` when they are the same cell.
fn turn(old: i32, from: Cell, to: Cell) -> i32 {
    let towards = match ((to.x - from.x).signum(), (to.y - from.y).signum()) {
        (0, 0) => return old,
        (0, -1) => 0,
        (1, -1) => 45,
        (1, 0) => 90,
        (1, 1) => 135,
        (0, 1) => 180,
        (-1, 1) => 225,
        (-1, 0) => 270,
        _ => 315,
    };
    // the signed difference in -180..180 (a half turn goes clockwise)
    let delta = (towards - old).rem_euclid(360);
    old + if delta > 180 { delta - 360 } else { delta }
}

#[cfg(test)]
mod tests {
    use crate::state::testing::*;
    use crate::state::{Action, Socket};

    #[test]
    fn spiders_face_the_way_they_last_moved() {
        let mut s = placed();
        s.apply(Action::Step { dx: 0, dy: 1 });
        assert_eq!(s.world.heading(ME), 180);
        s.apply(Action::ToggleHearts);
        assert_eq!(s.world.heading(ME), 180, "standing still keeps the heading");
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 1));
        assert_eq!(s.world.heading(OTHER).rem_euclid(360), 270);
    }

    #[test]
    fn turns_take_the_short_way_round() {
        let mut s = placed();
        let mut headings = vec![];
        for (dx, dy) in [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, 0), (-1, -1)] {
            s.apply(Action::Step { dx, dy });
            headings.push(s.world.heading(ME));
        }
        // west, north, east, south, west, north-west: never more than half a turn at once
        assert_eq!(headings, vec![-90, 0, 90, 180, 270, 315]);
    }
}
