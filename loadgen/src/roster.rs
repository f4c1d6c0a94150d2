//! Who the bots are and where they play: ids drawn and games created before any
//! connects, so every bot can tell a fellow bot's update from a stranger's without any
//! shared mutable state.

use std::collections::HashMap;

use protocol::Uuid;

/// The bots of one run, by index.
pub struct Roster {
    /// Player id of bot `i`; also the key of its two socket routes.
    ids: Vec<Uuid>,
    /// The reverse of `ids`, read by every bot for every frame it receives.
    index: HashMap<Uuid, usize>,
    /// The games played, by group: `None` is the server's default game. Bot `i` plays
    /// group `i mod games.len()`.
    games: Vec<Option<Uuid>>,
}

impl Roster {
    /// `players` bots, all in the server's default game.
    pub fn new(players: usize) -> Self {
        Roster::spread(players, vec![None])
    }

    /// `players` bots spread over `games` (at least one; `None` is the default game).
    pub fn spread(players: usize, games: Vec<Option<Uuid>>) -> Self {
        assert!(!games.is_empty(), "bots need a game to play");
        let ids: Vec<Uuid> = (0..players).map(|_| Uuid::new_v4()).collect();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Roster { ids, index, games }
    }

    /// How many games the bots play.
    pub fn groups(&self) -> usize {
        self.games.len()
    }

    /// The group (game number) of bot `index`.
    pub fn group(&self, index: usize) -> usize {
        index % self.games.len()
    }

    /// The game bot `index` plays; `None` is the server's default game.
    pub fn game(&self, index: usize) -> Option<Uuid> {
        self.games[self.group(index)]
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
