//! Stand-ins for what a room reaches: a bus that records, a store in memory that can be
//! held back, a lease that answers as told.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protocol::{ServerMessage, Uuid};
use tokio::sync::{mpsc, watch};

use crate::bus::{Bus, Frame};
use crate::room::Lease;
use crate::store::{GameInfo, ObjectKind, Store, StoreError, StoredObject};

/// A world frame the room published.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Published {
    /// The game it was published for.
    pub(super) game: Uuid,
    /// The frame.
    pub(super) message: ServerMessage,
    /// The command that caused it, if one came with an id.
    pub(super) cause: Option<Uuid>,
    /// Its number in the game's stream.
    pub(super) seq: u64,
}

/// A bus that records what is published on it.
pub(super) struct RecordingBus(pub(super) mpsc::UnboundedSender<Published>);

impl RecordingBus {
    fn record(&self, game: Uuid, frame: Frame, seq: u64, cause: Option<Uuid>) {
        let message = ServerMessage::parse(&frame).expect("the room publishes protocol frames");
        let _ = self.0.send(Published {
            game,
            message,
            cause,
            seq,
        });
    }
}

#[async_trait]
impl Bus for RecordingBus {
    fn publish(&self, game: Uuid, frame: Frame, seq: u64) {
        self.record(game, frame, seq, None);
    }

    fn publish_caused(&self, game: Uuid, frame: Frame, seq: u64, cause: Uuid) {
        self.record(game, frame, seq, Some(cause));
    }

    async fn close(&self) {}
}

/// A store in memory whose writes can be held back, as a store that is away.
pub(super) struct MemoryStore {
    /// The latest row of every object, by game and key.
    rows: Mutex<HashMap<(Uuid, ObjectKind, Uuid), StoredObject>>,
    /// Whether writes go through; while `false` they wait.
    open: watch::Sender<bool>,
}

impl MemoryStore {
    /// A store empty, taking writes if `open`.
    pub(super) fn new(open: bool) -> Self {
        MemoryStore {
            rows: Mutex::default(),
            open: watch::channel(open).0,
        }
    }

    /// Lets writes through from now on.
    pub(super) fn open(&self) {
        self.open.send_replace(true);
    }

    /// The latest row written of `object` of `game`.
    pub(super) fn row(&self, game: Uuid, kind: ObjectKind, object: Uuid) -> Option<StoredObject> {
        self.rows
            .lock()
            .unwrap()
            .get(&(game, kind, object))
            .cloned()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn current_game(&self) -> Result<Option<Uuid>, StoreError> {
        Ok(None)
    }
    async fn set_current_game(&self, _game: Uuid) -> Result<(), StoreError> {
        Ok(())
    }
    async fn create_game(&self, _game: &GameInfo) -> Result<(), StoreError> {
        Ok(())
    }
    async fn games(&self) -> Result<Vec<GameInfo>, StoreError> {
        Ok(Vec::new())
    }
    async fn game(&self, _id: Uuid) -> Result<Option<GameInfo>, StoreError> {
        Ok(None)
    }
    async fn load(&self, game: Uuid) -> Result<Vec<StoredObject>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .filter(|((g, _, _), _)| *g == game)
            .map(|(_, row)| row.clone())
            .collect())
    }
    async fn write(&self, game: Uuid, batch: &[StoredObject]) -> Result<(), StoreError> {
        // unwrap: the sender lives as long as the store
        self.open.subscribe().wait_for(|open| *open).await.unwrap();
        let mut rows = self.rows.lock().unwrap();
        for row in batch {
            rows.insert((game, row.kind, row.object_id), row.clone());
        }
        Ok(())
    }
}

/// A lease that answers `answers` in turn, then yes, and counts how often the room
/// asked and whether it left.
pub(super) fn recording_lease(answers: Vec<bool>) -> (Lease, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (asked, released) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, r) = (asked.clone(), released.clone());
    let answers = Mutex::new(answers.into_iter());
    let lease = Lease::new(move |quiet| {
        a.fetch_add(1, Ordering::Relaxed);
        // as the directory does: a joiner handed the room meanwhile says no
        let answer = answers.lock().unwrap().next().unwrap_or(true);
        if !answer || !quiet() {
            return false;
        }
        r.fetch_add(1, Ordering::Relaxed);
        true
    });
    (lease, asked, released)
}
