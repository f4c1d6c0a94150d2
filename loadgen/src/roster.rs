//! Who the bots are: ids drawn before any connects, so every bot can tell a fellow bot's
//! update from a stranger's without any shared mutable state.

use std::collections::HashMap;

use protocol::Uuid;

/// The bots of one run, by index.
pub struct Roster {
    /// Player id of bot `i`; also the key of its two socket routes.
    ids: Vec<Uuid>,
    /// The reverse of `ids`, read by every bot for every frame it receives.
    index: HashMap<Uuid, usize>,
}

impl Roster {
    pub fn new(players: usize) -> Self {
        let ids: Vec<Uuid> = (0..players).map(|_| Uuid::new_v4()).collect();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Roster { ids, index }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn id(&self, index: usize) -> Uuid {
        self.ids[index]
    }

    /// The index of the bot with this id, or `None` for a player that is not ours.
    pub fn index_of(&self, id: &Uuid) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn name(index: usize) -> String {
        format!("bot-{index:04}")
    }
}
