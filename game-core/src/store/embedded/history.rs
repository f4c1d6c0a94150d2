//! The embedded store's history: a folder per game under `history/` in the data
//! directory, a file per minute of records (`<bucket>.jsonl`, [`HISTORY_BUCKET_MS`]),
//! each line a record exactly as the history API writes it.
//!
//! Why files per minute rather than the store's log: history only grows (nothing
//! replaces a record), so it has no business in a log that is replayed into memory at
//! start; a minute's file is read whole to seek in it (about 1.5 MB for a busy game),
//! retention deletes whole files, and forgetting a game deletes its folder. Records
//! reach the OS with each batch, as the log's rows do; a torn last line (a crash
//! mid-write) is skipped when read.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use protocol::Uuid;

use crate::store::history::{bucket_of, HistoryRecord, CLOCK_SKEW_MS, HISTORY_BUCKET_MS};

/// Most games whose current file is kept open for appending.
const OPEN_FILES: usize = 256;

/// The history folders, and the files being appended to.
pub(super) struct HistoryFiles {
    /// `history/` in the data directory.
    dir: PathBuf,
    /// Per game, the bucket whose file is open for appending, and the file.
    open: HashMap<Uuid, (i64, File)>,
}

impl HistoryFiles {
    pub(super) fn new(data_dir: &Path) -> Self {
        HistoryFiles {
            dir: data_dir.join("history"),
            open: HashMap::new(),
        }
    }

    fn game_dir(&self, game: Uuid) -> PathBuf {
        self.dir.join(game.to_string())
    }

    /// Appends `records` (in order) to their buckets' files.
    pub(super) fn append(&mut self, game: Uuid, records: &[HistoryRecord]) -> io::Result<()> {
        let mut text = String::new();
        let mut bucket = None;
        for record in records {
            let b = bucket_of(record.t);
            if bucket.is_some_and(|open| open != b) {
                self.write(game, bucket.unwrap(), &text)?;
                text.clear();
            }
            bucket = Some(b);
            text.push_str(&record.line());
            text.push('\n');
        }
        if let Some(bucket) = bucket {
            self.write(game, bucket, &text)?;
        }
        Ok(())
    }

    fn write(&mut self, game: Uuid, bucket: i64, text: &str) -> io::Result<()> {
        let current = self.open.get(&game).map(|(b, _)| *b);
        if current != Some(bucket) {
            if self.open.len() >= OPEN_FILES {
                self.open.clear();
            }
            let dir = self.game_dir(game);
            fs::create_dir_all(&dir)?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{bucket}.jsonl")))?;
            self.open.insert(game, (bucket, file));
        }
        // unwrap: inserted above when missing
        let (_, file) = self.open.get_mut(&game).unwrap();
        file.write_all(text.as_bytes())
    }

    /// The buckets kept of `game`, in order.
    fn buckets(&self, game: Uuid) -> io::Result<Vec<i64>> {
        let entries = match fs::read_dir(self.game_dir(game)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut buckets: Vec<i64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".jsonl")?.parse().ok())
            .collect();
        buckets.sort_unstable();
        Ok(buckets)
    }

    /// The whole records of one bucket's file, in order (a torn last line is left out).
    fn read(&self, game: Uuid, bucket: i64) -> io::Result<Vec<HistoryRecord>> {
        let path = self.game_dir(game).join(format!("{bucket}.jsonl"));
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // only lines with their newline: the last may be mid-write
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        Ok(whole
            .split('\n')
            .filter_map(HistoryRecord::parse_line)
            .collect())
    }

    /// The latest snapshot with `t <= at`, or the first kept.
    pub(super) fn snapshot(
        &self,
        game: Uuid,
        at: Option<i64>,
    ) -> io::Result<Option<HistoryRecord>> {
        let buckets = self.buckets(game)?;
        match at {
            None => {
                for bucket in buckets {
                    if let Some(first) = self.read(game, bucket)?.into_iter().find(|r| r.snapshot) {
                        return Ok(Some(first));
                    }
                }
            }
            Some(at) => {
                let last = bucket_of(at);
                for bucket in buckets.into_iter().rev().filter(|b| *b <= last) {
                    let found = self
                        .read(game, bucket)?
                        .into_iter()
                        .filter(|r| r.snapshot && r.t <= at)
                        .last();
                    if found.is_some() {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(None)
    }

    /// The updates with `seq > after` and `t <= to`, looking from `since`'s bucket on.
    pub(super) fn updates(
        &self,
        game: Uuid,
        after: u64,
        since: i64,
        to: i64,
        limit: usize,
    ) -> io::Result<Vec<HistoryRecord>> {
        let (first, last) = (bucket_of(since), bucket_of(to));
        let mut out = Vec::new();
        for bucket in self
            .buckets(game)?
            .into_iter()
            .filter(|b| (first..=last).contains(b))
        {
            for record in self.read(game, bucket)? {
                if record.t > to.saturating_add(CLOCK_SKEW_MS) {
                    return Ok(out);
                }
                if !record.snapshot && record.seq > after && record.t <= to {
                    if out.len() == limit {
                        return Ok(out);
                    }
                    out.push(record);
                }
            }
        }
        Ok(out)
    }

    /// The times of the first and last records kept.
    pub(super) fn span(&self, game: Uuid) -> io::Result<Option<(i64, i64)>> {
        let buckets = self.buckets(game)?;
        let first = buckets
            .iter()
            .find_map(|b| self.read(game, *b).ok()?.first().map(|r| r.t));
        let last = buckets
            .iter()
            .rev()
            .find_map(|b| self.read(game, *b).ok()?.last().map(|r| r.t));
        Ok(first.zip(last))
    }

    /// Deletes every file whose whole minute is before `before`, of every game, and
    /// the folders left empty.
    pub(super) fn expire(&mut self, before: i64) -> io::Result<()> {
        let games = match fs::read_dir(&self.dir) {
            Ok(games) => games,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in games.filter_map(|e| e.ok()) {
            let Some(game) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Uuid>().ok())
            else {
                continue;
            };
            let buckets = self.buckets(game)?;
            let mut left = buckets.len();
            for bucket in buckets {
                if (bucket + 1) * HISTORY_BUCKET_MS <= before {
                    if self.open.get(&game).is_some_and(|(b, _)| *b == bucket) {
                        self.open.remove(&game);
                    }
                    fs::remove_file(self.game_dir(game).join(format!("{bucket}.jsonl")))?;
                    left -= 1;
                }
            }
            if left == 0 {
                // a write racing this recreates the folder
                let _ = fs::remove_dir(self.game_dir(game));
            }
        }
        Ok(())
    }

    /// Deletes `game`'s history.
    pub(super) fn forget(&mut self, game: Uuid) -> io::Result<()> {
        self.open.remove(&game);
        match fs::remove_dir_all(self.game_dir(game)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
