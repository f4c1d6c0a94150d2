//! Drops frames a consumer already delivered.
//!
//! A producer that lost its connection resends every frame the broker had not yet
//! acknowledged, and the broker may have stored some of them already; a consumer that
//! re-subscribes is sent again what it had not acknowledged. Each frame carries its
//! publishing instance and a sequence number that grows by one per frame, and a
//! publisher never reorders its frames, so "seen a number at least this high from this
//! instance" is all a consumer must remember.

use std::collections::HashMap;

/// The highest sequence number delivered per publishing instance.
#[derive(Debug, Default)]
pub struct Dedup {
    /// Publishing instance id to the last sequence number delivered from it.
    last: HashMap<String, u64>,
}

impl Dedup {
    /// Whether the frame `seq` of `origin` is new (and then remembers it).
    pub fn first_time(&mut self, origin: &str, seq: u64) -> bool {
        match self.last.get_mut(origin) {
            Some(last) if seq <= *last => false,
            Some(last) => {
                *last = seq;
                true
            }
            None => {
                self.last.insert(origin.to_string(), seq);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(frames: &[(&str, u64)], expected: &[bool]) {
        let mut dedup = Dedup::default();
        let got: Vec<bool> = frames
            .iter()
            .map(|(origin, seq)| dedup.first_time(origin, *seq))
            .collect();
        assert_eq!(got, expected, "{frames:?}");
    }

    #[test]
    fn a_resent_frame_is_delivered_once() {
        check(
            &[("a", 1), ("a", 2), ("a", 2), ("a", 3), ("a", 1)],
            &[true, true, false, true, false],
        );
    }

    #[test]
    fn instances_are_counted_apart() {
        check(
            &[("a", 5), ("b", 1), ("b", 2), ("a", 6), ("b", 2)],
            &[true, true, true, true, false],
        );
    }

    #[test]
    fn a_gap_is_not_a_duplicate() {
        check(&[("a", 1), ("a", 7), ("a", 8)], &[true, true, true]);
    }
}
