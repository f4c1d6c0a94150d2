//! Which command partition a game's commands go to: a pure function every instance
//! computes alike, so that no instance needs to ask where a game runs.

use protocol::Uuid;

/// The partition of `game` among `partitions` (at least 1).
///
/// Game ids are random (v4) UUIDs, so their value modulo the partition count spreads
/// games evenly; the function is the same on every instance and in any language that
/// reads the id as a 128-bit big-endian number. We route by this number ourselves
/// instead of letting the client hash the message key: the instance that owns a
/// partition must know which games are its own, so both sides need the same function.
pub fn partition_of(game: Uuid, partitions: u32) -> u32 {
    (game.as_u128() % u128::from(partitions.max(1))) as u32
}

/// The name of partition `index` of the partitioned topic `topic`, as Pulsar names it.
pub fn partition_topic(topic: &str, index: u32) -> String {
    format!("{topic}-partition-{index}")
}

/// The partition index in a partition topic's name (`...-partition-7` -> 7).
pub fn index_of(topic: &str) -> Option<u32> {
    topic.rsplit_once("-partition-")?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_game_always_lands_on_the_same_partition_in_range() {
        for n in [1, 2, 8, 16] {
            for _ in 0..200 {
                let game = Uuid::new_v4();
                let p = partition_of(game, n);
                assert!(p < n);
                assert_eq!(p, partition_of(game, n));
            }
        }
        assert_eq!(partition_of(Uuid::from_u128(17), 8), 1);
        assert_eq!(partition_of(Uuid::from_u128(17), 0), 0);
    }

    #[test]
    fn games_spread_over_partitions() {
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            counts[partition_of(Uuid::new_v4(), 8) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (700..1300).contains(c)), "{counts:?}");
    }

    #[test]
    fn partition_names_round_trip() {
        let topic = "persistent://public/default/drapetisca-world-commands";
        let name = partition_topic(topic, 7);
        assert_eq!(name, format!("{topic}-partition-7"));
        assert_eq!(index_of(&name), Some(7));
        assert_eq!(index_of(topic), None);
    }
}
