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

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protocol::Uuid;
use serde::{Deserialize, Serialize};

use super::{now_ms, GameInfo, ObjectKind, Store, StoreError, StoredObject};

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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ObjectKind, n: u128, x: i32) -> StoredObject {
        StoredObject {
            kind,
            object_id: Uuid::from_u128(n),
            active: true,
            x,
            y: 1,
            h: false,
            generation: 0,
            score: 0,
            expires_ms: None,
            token_hash: None,
            name: format!("o{n}"),
        }
    }

    #[tokio::test]
    async fn rows_and_the_current_game_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(store.current_game().await.unwrap(), None);
            store.set_current_game(game).await.unwrap();
            store
                .write(
                    game,
                    &[row(ObjectKind::Brick, 1, 3), row(ObjectKind::Player, 2, 4)],
                )
                .await
                .unwrap();
            store
                .write(game, &[row(ObjectKind::Player, 2, 5)])
                .await
                .unwrap();
            store
                .write(Uuid::from_u128(8), &[row(ObjectKind::Food, 3, 1)])
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.current_game().await.unwrap(), Some(game));
        let mut rows = store.load(game).await.unwrap();
        rows.sort_by_key(|r| r.object_id);
        assert_eq!(
            rows,
            vec![row(ObjectKind::Brick, 1, 3), row(ObjectKind::Player, 2, 5)]
        );
    }

    #[tokio::test]
    async fn game_records_survive_reopening_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let info = |n: u128| GameInfo {
            id: Uuid::from_u128(n),
            name: format!("game {n}"),
            created_ms: 1_700_000_000_000 + n as i64,
        };
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store.create_game(&info(1)).await.unwrap();
            store.create_game(&info(2)).await.unwrap();
            for x in 0..300 {
                store
                    .write(info(1).id, &[row(ObjectKind::Player, 2, x)])
                    .await
                    .unwrap();
            }
        }
        // the reopening compacts the 300 replaced rows away; the games must stay
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let mut games = store.games().await.unwrap();
        games.sort_by_key(|g| g.id);
        assert_eq!(games, vec![info(1), info(2)]);
        assert_eq!(store.game(info(2).id).await.unwrap(), Some(info(2)));
        assert_eq!(store.game(Uuid::from_u128(3)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_skipped_and_compaction_keeps_the_latest_rows() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store.set_current_game(game).await.unwrap();
            for x in 0..300 {
                store
                    .write(game, &[row(ObjectKind::Player, 2, x)])
                    .await
                    .unwrap();
            }
        }
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"game_id":"00000000-0000-0000-0000-0000000"#)
            .unwrap();
        drop(f);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load(game).await.unwrap(),
            vec![row(ObjectKind::Player, 2, 299)]
        );
        let lines = fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 2, "compacted to the live rows, got {lines} lines");
    }

    /// The ids of the objects of `game`, in order.
    async fn ids(store: &EmbeddedStore, game: Uuid) -> Vec<u128> {
        let mut ids: Vec<u128> = store
            .load(game)
            .await
            .unwrap()
            .iter()
            .map(|r| r.object_id.as_u128())
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn expired_rows_are_forgotten_and_compacted_away_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        let expiring = |n: u128, at: i64| StoredObject {
            expires_ms: Some(at),
            token_hash: None,
            ..row(ObjectKind::Player, n, 1)
        };
        let later = now_ms() + 60_000;
        let soon = now_ms() + 300;
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .write(
                    game,
                    &[
                        row(ObjectKind::Food, 1, 1),
                        expiring(2, later),
                        expiring(3, soon),
                        expiring(4, now_ms() - 1),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(
                ids(&store, game).await,
                [1, 2, 3],
                "a row written expired is gone at once"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(
                ids(&store, game).await,
                [1, 2],
                "a row past its expiry is not loaded"
            );
            // replacing the one live row 200 times makes the next open compact
            for x in 0..200 {
                store
                    .write(game, &[row(ObjectKind::Food, 1, x)])
                    .await
                    .unwrap();
            }
        }
        EmbeddedStore::open(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text.lines().count(), 2, "only the live rows stay:\n{text}");
        assert!(text.contains(&Uuid::from_u128(2).to_string()));
        assert!(text.contains("expires_ms"), "the expiry is kept:\n{text}");
    }

    /// Appends `bytes` to the log in `dir` as a crash mid-write would leave them.
    fn append_raw(dir: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    /// Opens the store in `dir`, writes `object`, closes it, and returns the game's rows
    /// after opening it again, by id.
    async fn write_then_reopen(dir: &Path, game: Uuid, object: StoredObject) -> Vec<StoredObject> {
        EmbeddedStore::open(dir)
            .unwrap()
            .write(game, &[object])
            .await
            .unwrap();
        let mut rows = EmbeddedStore::open(dir).unwrap().load(game).await.unwrap();
        rows.sort_by_key(|r| r.object_id);
        rows
    }

    #[tokio::test]
    async fn a_write_after_a_torn_last_line_survives_the_next_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store.set_current_game(game).await.unwrap();
            store
                .write(game, &[row(ObjectKind::Player, 2, 1)])
                .await
                .unwrap();
        }
        // a short log (no compaction at open) whose last line was torn by a crash
        append_raw(
            dir.path(),
            br#"{"game_id":"00000000-0000-0000-0000-0000000"#,
        );
        let rows = write_then_reopen(dir.path(), game, row(ObjectKind::Player, 3, 7)).await;
        assert_eq!(
            rows,
            vec![row(ObjectKind::Player, 2, 1), row(ObjectKind::Player, 3, 7)]
        );
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(
            text.lines().count(),
            3,
            "the torn fragment is gone:\n{text}"
        );
    }

    #[tokio::test]
    async fn a_players_token_hash_survives_reopening_and_older_rows_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        EmbeddedStore::open(dir.path()).unwrap();
        // a row as older versions wrote it: no token_hash field at all
        let older = Record::Object {
            game_id: game,
            object: row(ObjectKind::Player, 2, 1),
        };
        let mut line = serde_json::to_vec(&older).unwrap();
        assert!(!String::from_utf8_lossy(&line).contains("token_hash"));
        line.push(b'\n');
        append_raw(dir.path(), &line);
        let mut bound = row(ObjectKind::Player, 3, 7);
        bound.token_hash = Some(crate::tokens::TokenHash::of("secret"));
        let rows = write_then_reopen(dir.path(), game, bound.clone()).await;
        assert_eq!(rows, vec![row(ObjectKind::Player, 2, 1), bound]);
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(
            !text.contains("secret"),
            "only the hash is written:\n{text}"
        );
    }

    #[tokio::test]
    async fn a_whole_last_record_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let game = Uuid::from_u128(9);
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store.set_current_game(game).await.unwrap();
        }
        let record = Record::Object {
            game_id: game,
            object: row(ObjectKind::Food, 4, 2),
        };
        append_raw(dir.path(), &serde_json::to_vec(&record).unwrap());
        let rows = write_then_reopen(dir.path(), game, row(ObjectKind::Player, 3, 7)).await;
        assert_eq!(
            rows,
            vec![row(ObjectKind::Player, 3, 7), row(ObjectKind::Food, 4, 2)]
        );
    }
}
