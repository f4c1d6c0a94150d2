//! Swipes on the field: which king's step a finger's stroke means. Pure arithmetic on
//! the stroke's start and end, so it is unit-tested natively.

/// Shortest stroke, in CSS pixels, that counts as a swipe; anything shorter is a tap or
/// a trembling finger.
const MIN_SWIPE_PX: i32 = 24;

/// The step `(dx, dy)` (each -1, 0 or 1, y down) a stroke of `(dx, dy)` pixels means,
/// or `None` for a stroke too short to be a swipe. The eight directions each get a 45°
/// sector: a stroke is diagonal when its smaller component is at least 0.4 (about
/// tan 22.5°) of its larger one.
pub fn swipe(dx: i32, dy: i32) -> Option<(i32, i32)> {
    let (ax, ay) = (dx.abs(), dy.abs());
    if ax.max(ay) < MIN_SWIPE_PX {
        return None;
    }
    let diagonal = 5 * ax.min(ay) >= 2 * ax.max(ay);
    Some(match (diagonal, ax >= ay) {
        (true, _) => (dx.signum(), dy.signum()),
        (false, true) => (dx.signum(), 0),
        (false, false) => (0, dy.signum()),
    })
}

#[cfg(test)]
mod tests {
    use super::swipe;

    #[test]
    fn strokes_map_to_the_nearest_of_eight_steps() {
        for (stroke, step) in [
            ((0, 0), None),
            ((23, 0), None),
            ((-10, 15), None),
            ((24, 0), Some((1, 0))),
            ((-80, 10), Some((-1, 0))),
            ((5, -60), Some((0, -1))),
            ((12, 90), Some((0, 1))),
            ((60, 60), Some((1, 1))),
            ((-60, 30), Some((-1, 1))),
            ((40, -100), Some((1, -1))),
            ((-50, -19), Some((-1, 0))),
            ((-50, -20), Some((-1, -1))),
        ] {
            assert_eq!(swipe(stroke.0, stroke.1), step, "stroke {stroke:?}");
        }
    }
}
