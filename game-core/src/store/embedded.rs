//! The embedded store: one append-only file of JSON lines in the data directory.
//!
//! Why this engine: the game writes small rows that replace each other (a player's last
//! position), a few thousand live rows at most per game. An append-only log of whole
//! rows, replayed at start-up and compacted when it grows, needs no dependency, survives
//! a crash mid-write (a torn last line is cut off at open), and can be read with `cat`. Writes
//! reach the OS on every batch, so a killed process loses nothing; `flush` (on shutdown)
//! also forces them to disk.
//!
//! Rows of players long gone carry an expiry ([`StoredObject::expires_ms`]): an expired
//! row is dropped from memory when it is written, read, or the log is opened, and from
//! the file at the next compaction, so the log stays bounded by the players the games
//! hold.
//!
//! A game's history is kept apart, in files per game and minute ([`history`]).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protocol::Uuid;
use serde::{Deserialize, Serialize};

use super::{GameInfo, HistoryRecord, ObjectKind, Store, StoreError, StoredObject};
use crate::clock::now_ms;
use history::HistoryFiles;

mod history;

/// The log's file name inside the data directory.
const FILE_NAME: &str = "drapetisca.jsonl";

/// One line of the log.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Record {
    /// The game to resume after a restart.
    Current { current_game: Uuid },
    /// A game's lobby record.
    Game { game: GameInfo },
    /// The latest state of one object of one game.
    Object {
        game_id: Uuid,
        #[serde(flatten)]
        object: StoredObject,
    },
    /// A game forgotten: its record and rows are gone.
    Forgotten { forgotten_game: Uuid },
}

/// What the log says now, kept in memory so reads never touch the disk.
struct Inner {
    /// The open log, appended to.
    file: BufWriter<File>,
    /// The game to resume.
    current: Option<Uuid>,
    /// Every game's lobby record, by id.
    games: HashMap<Uuid, GameInfo>,
    /// Latest row of every object, by game and key.
    objects: HashMap<(Uuid, ObjectKind, Uuid), StoredObject>,
    /// Lines in the log, live or replaced; compaction runs when this outgrows the live rows.
    lines: usize,
}

/// The embedded store. Cheap to clone; clones share the file.
#[derive(Clone)]
pub struct EmbeddedStore {
    /// The log's path.
    path: PathBuf,
    /// The state; a `std` mutex, since it is only held inside `spawn_blocking` closures
    /// and never across an `.await`.
    inner: Arc<Mutex<Inner>>,
    /// The games' history, apart from the log (its own lock, so that reading a window
    /// never holds up rows).
    history: Arc<Mutex<HistoryFiles>>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`, replaying its log.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        let mut current = None;
        let mut games = HashMap::new();
        let mut objects = HashMap::new();
        let mut lines = 0;
        if path.exists() {
            let mut reader = BufReader::new(File::open(&path)?);
            let mut line = Vec::new();
            // bytes up to the end of the last whole line: where the next append must go
            let mut whole = 0u64;
            let mut torn = false;
            for number in 1.. {
                line.clear();
                let read = reader.read_until(b'\n', &mut line)?;
                if read == 0 {
                    break;
                }
                let complete = line.ends_with(b"\n");
                match serde_json::from_slice::<Record>(&line) {
                    Ok(Record::Current { current_game }) => current = Some(current_game),
                    Ok(Record::Game { game }) => {
                        games.insert(game.id, game);
                    }
                    Ok(Record::Object { game_id, object }) => {
                        objects.insert((game_id, object.kind, object.object_id), object);
                    }
                    Ok(Record::Forgotten { forgotten_game }) => {
                        games.remove(&forgotten_game);
                        objects.retain(|(g, _, _), _| *g != forgotten_game);
                    }
                    // a crash mid-write leaves a last line without its newline; it is
                    // cut off below, so that the next record starts on a line of its own
                    Err(_) if !complete => {
                        tracing::warn!(line = number, bytes = read, path = %path.display(), "cutting off a torn last store line");
                        torn = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(line = number, error = %e, path = %path.display(), "skipping unreadable store line")
                    }
                }
                whole += read as u64;
                lines += 1;
                if !complete {
                    // a whole record that only lost its newline: give it one back
                    OpenOptions::new()
                        .append(true)
                        .open(&path)?
                        .write_all(b"\n")?;
                    whole += 1;
                }
            }
            if torn {
                OpenOptions::new().write(true).open(&path)?.set_len(whole)?;
            }
        }
        let now = now_ms();
        objects.retain(|_, o: &mut StoredObject| !o.expired(now));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut inner = Inner {
            file: BufWriter::new(file),
            current,
            games,
            objects,
            lines,
        };
        if inner.lines > 2 * inner.live() + 100 {
            compact(&path, &mut inner)?;
        }
        Ok(EmbeddedStore {
            path,
            inner: Arc::new(Mutex::new(inner)),
            history: Arc::new(Mutex::new(HistoryFiles::new(data_dir))),
        })
    }

    /// Runs `f` on the state in a blocking thread, so file IO never stalls the runtime.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path, &mut Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            // unwrap: a poisoned lock means a panic mid-write; better to stop than to guess
            let mut inner = this.inner.lock().unwrap();
            f(&this.path, &mut inner)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
    }

    /// Runs `f` on the history files in a blocking thread.
    async fn with_history<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut HistoryFiles) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let history = self.history.clone();
        tokio::task::spawn_blocking(move || {
            // unwrap: as above
            let mut files = history.lock().unwrap();
            f(&mut files).map_err(StoreError::Io)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
    }
}

impl Inner {
    fn live(&self) -> usize {
        self.objects.len() + self.games.len() + 1
    }

    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        // unwrap: records hold only strings, numbers and booleans
        serde_json::to_writer(&mut self.file, record).unwrap();
        self.file.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }
}

/// Rewrites the log with only the live rows (not replaced, not expired), atomically
/// (write aside, then rename).
fn compact(path: &Path, inner: &mut Inner) -> Result<(), StoreError> {
    inner.file.flush()?;
    let now = now_ms();
    inner.objects.retain(|_, o| !o.expired(now));
    let aside = path.with_extension("jsonl.compacting");
    let mut out = BufWriter::new(File::create(&aside)?);
    let mut lines = 0;
    if let Some(current_game) = inner.current {
        serde_json::to_writer(&mut out, &Record::Current { current_game })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    for game in inner.games.values() {
        serde_json::to_writer(&mut out, &Record::Game { game: game.clone() })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    for ((game_id, _, _), object) in &inner.objects {
        let record = Record::Object {
            game_id: *game_id,
            object: object.clone(),
        };
        serde_json::to_writer(&mut out, &record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    out.into_inner()
        .map_err(|e| StoreError::Io(e.into_error()))?
        .sync_all()?;
    fs::rename(&aside, path)?;
    inner.file = BufWriter::new(OpenOptions::new().append(true).open(path)?);
    inner.lines = lines;
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn current_game(&self) -> Result<Option<Uuid>, StoreError> {
        self.with(|_, inner| Ok(inner.current)).await
    }

    async fn set_current_game(&self, game: Uuid) -> Result<(), StoreError> {
        self.with(move |_, inner| {
            inner.current = Some(game);
            inner.append(&Record::Current { current_game: game })?;
            inner.file.flush()?;
            Ok(())
        })
        .await
    }

    async fn create_game(&self, game: &GameInfo) -> Result<(), StoreError> {
        let game = game.clone();
        self.with(move |_, inner| {
            inner.append(&Record::Game { game: game.clone() })?;
            inner.file.flush()?;
            inner.games.insert(game.id, game);
            Ok(())
        })
        .await
    }

    async fn games(&self) -> Result<Vec<GameInfo>, StoreError> {
        self.with(|_, inner| Ok(inner.games.values().cloned().collect()))
            .await
    }

    async fn game(&self, id: Uuid) -> Result<Option<GameInfo>, StoreError> {
        self.with(move |_, inner| Ok(inner.games.get(&id).cloned()))
            .await
    }

    async fn load(&self, game: Uuid) -> Result<Vec<StoredObject>, StoreError> {
        self.with(move |_, inner| {
            let now = now_ms();
            inner
                .objects
                .retain(|(g, _, _), o| *g != game || !o.expired(now));
            Ok(inner
                .objects
                .iter()
                .filter(|((g, _, _), _)| *g == game)
                .map(|(_, o)| o.clone())
                .collect())
        })
        .await
    }

    async fn write(&self, game: Uuid, batch: &[StoredObject]) -> Result<(), StoreError> {
        let batch = batch.to_vec();
        self.with(move |path, inner| {
            let now = now_ms();
            for object in batch {
                inner.append(&Record::Object {
                    game_id: game,
                    object: object.clone(),
                })?;
                let key = (game, object.kind, object.object_id);
                // an expired row still goes to the log (it replaces the older one
                // there), but memory forgets it at once
                if object.expired(now) {
                    inner.objects.remove(&key);
                } else {
                    inner.objects.insert(key, object);
                }
            }
            // into the OS now, so a killed process loses nothing
            inner.file.flush()?;
            if inner.lines > 8 * inner.live() + 10_000 {
                compact(path, inner)?;
            }
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.with(|_, inner| {
            inner.file.flush()?;
            inner.file.get_ref().sync_data()?;
            Ok(())
        })
        .await
    }

    async fn append_history(
        &self,
        game: Uuid,
        records: &[HistoryRecord],
        _keep: std::time::Duration,
    ) -> Result<(), StoreError> {
        // kept until `expire_history` drops its minute (the history writer calls it)
        let records = records.to_vec();
        self.with_history(move |files| files.append(game, &records))
            .await
    }

    async fn history_snapshot(
        &self,
        game: Uuid,
        at: Option<i64>,
    ) -> Result<Option<HistoryRecord>, StoreError> {
        self.with_history(move |files| files.snapshot(game, at))
            .await
    }

    async fn history_updates(
        &self,
        game: Uuid,
        after: u64,
        since: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        self.with_history(move |files| files.updates(game, after, since, to, limit))
            .await
    }

    async fn history_span(&self, game: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
        self.with_history(move |files| files.span(game)).await
    }

    async fn expire_history(&self, before: i64) -> Result<(), StoreError> {
        self.with_history(move |files| files.expire(before)).await
    }

    async fn forget_game(&self, read: &GameInfo) -> Result<bool, StoreError> {
        let (game, played_ms) = (read.id, read.played_ms);
        let forgotten = self
            .with(move |_, inner| {
                let Some(info) = inner.games.get(&game) else {
                    return Ok(false);
                };
                if info.played_ms != played_ms || inner.current == Some(game) {
                    return Ok(false);
                }
                inner.append(&Record::Forgotten {
                    forgotten_game: game,
                })?;
                inner.file.flush()?;
                inner.games.remove(&game);
                inner.objects.retain(|(g, _, _), _| *g != game);
                Ok(true)
            })
            .await?;
        if forgotten {
            self.with_history(move |files| files.forget(game)).await?;
        }
        Ok(forgotten)
    }

    async fn game_played(&self, game: Uuid, at: i64) -> Result<(), StoreError> {
        self.with(move |_, inner| {
            let Some(info) = inner.games.get_mut(&game) else {
                return Ok(()); // forgotten meanwhile, or never recorded
            };
            if info.played_ms.is_some_and(|played| played >= at) {
                return Ok(());
            }
            info.played_ms = Some(at);
            let record = Record::Game { game: info.clone() };
            inner.append(&record)?;
            inner.file.flush()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
