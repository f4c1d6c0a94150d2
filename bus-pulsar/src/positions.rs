//! Where this instance's frames landed on the world topic: for each game, the position
//! (message id) of the latest frame the broker acknowledged, with the epoch it was
//! stamped with. A cluster's owner records it as the game's checkpoint (the stored rows
//! reflect every frame up to there: a room hands its rows over before it publishes),
//! and a take-over replays the world topic from it; [`encode`] and [`decode`] turn a
//! position into the text the store keeps.

use std::collections::HashMap;
use std::sync::Mutex;

use protocol::Uuid;
use pulsar::proto::MessageIdData;

/// The latest acknowledged frame of each game, by game.
#[derive(Default)]
pub struct Positions {
    /// A `std` mutex: held for a map operation, never across an `.await`.
    latest: Mutex<HashMap<Uuid, Landed>>,
}

/// Where one frame landed.
#[derive(Clone, Debug, PartialEq)]
pub struct Landed {
    /// Its message id on the world topic.
    pub id: MessageIdData,
    /// The epoch it was stamped with.
    pub epoch: u64,
}

impl Positions {
    /// A frame of `game` stamped `epoch` was acknowledged at `id`. Receipts come in
    /// publication order, so the latest is the furthest.
    pub fn landed(&self, game: Uuid, id: MessageIdData, epoch: u64) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.latest
            .lock()
            .unwrap()
            .insert(game, Landed { id, epoch });
    }

    /// Where the latest acknowledged frame of `game` landed.
    pub fn latest(&self, game: Uuid) -> Option<Landed> {
        // unwrap: as in `landed`
        self.latest.lock().unwrap().get(&game).cloned()
    }

    /// Forgets `game` (this instance no longer publishes for it).
    pub fn forget(&self, game: Uuid) {
        // unwrap: as in `landed`
        self.latest.lock().unwrap().remove(&game);
    }
}

/// A position as text: `ledger:entry`, then `:partition` and `:batch index` when the
/// broker gave them (the world topic has no partitions and its frames are not batched).
pub fn encode(id: &MessageIdData) -> String {
    let mut text = format!("{}:{}", id.ledger_id, id.entry_id);
    if id.partition.is_some() || id.batch_index.is_some() {
        text += &format!(
            ":{}:{}",
            id.partition.unwrap_or(-1),
            id.batch_index.unwrap_or(-1)
        );
    }
    text
}

/// The position `text` stands for, as [`encode`] wrote it.
pub fn decode(text: &str) -> Result<MessageIdData, String> {
    let bad = || format!("{text:?} is not a world topic position (ledger:entry)");
    let parts: Vec<&str> = text.split(':').collect();
    let number = |i: usize| {
        parts
            .get(i)
            .ok_or_else(bad)?
            .parse::<i64>()
            .map_err(|_| bad())
    };
    let optional = |i: usize| -> Result<Option<i32>, String> {
        match parts.get(i) {
            None => Ok(None),
            Some(_) => {
                let n = number(i)?;
                let n = i32::try_from(n).map_err(|_| bad())?;
                Ok((n >= 0).then_some(n))
            }
        }
    };
    if !(parts.len() == 2 || parts.len() == 4) {
        return Err(bad());
    }
    let (ledger, entry) = (number(0)?, number(1)?);
    if ledger < 0 || entry < 0 {
        return Err(bad());
    }
    Ok(MessageIdData {
        ledger_id: ledger as u64,
        entry_id: entry as u64,
        partition: optional(2)?,
        batch_index: optional(3)?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ledger: u64, entry: u64, partition: Option<i32>, batch: Option<i32>) -> MessageIdData {
        MessageIdData {
            ledger_id: ledger,
            entry_id: entry,
            partition,
            batch_index: batch,
            ..Default::default()
        }
    }

    #[test]
    fn a_position_comes_back_from_its_text() {
        for position in [
            id(17, 4_000_000, None, None),
            id(0, 0, None, None),
            id(3, 9, Some(2), None),
            id(3, 9, None, Some(5)),
        ] {
            let text = encode(&position);
            assert_eq!(decode(&text), Ok(position), "{text}");
        }
        assert_eq!(encode(&id(17, 42, None, None)), "17:42");
    }

    #[test]
    fn text_that_is_no_position_is_refused_clearly() {
        for text in [
            "",
            "17",
            "17:",
            "a:b",
            "-1:3",
            "1:2:3",
            "1:2:3:4:5",
            "1:2:x:0",
        ] {
            let error = decode(text).unwrap_err();
            assert!(
                error.contains("not a world topic position"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn the_latest_acknowledged_frame_of_each_game_is_kept_until_forgotten() {
        let positions = Positions::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        positions.landed(a, id(1, 1, None, None), 3);
        positions.landed(b, id(1, 2, None, None), 1);
        positions.landed(a, id(1, 3, None, None), 3);
        assert_eq!(
            positions.latest(a),
            Some(Landed {
                id: id(1, 3, None, None),
                epoch: 3
            })
        );
        positions.forget(a);
        assert_eq!(positions.latest(a), None);
        assert_eq!(positions.latest(b).unwrap().epoch, 1);
    }
}
