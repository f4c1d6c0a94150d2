//! The owner loop's side of the cap on owned games: whether a command for a game not
//! hosted here starts a host, by the rule of [`super::owned_cap`], and the IO around
//! it (the refusal sent back to the socket's instance, the log lines, forgetting the
//! hosts that ended so that the cap counts only what runs).

use std::collections::HashMap;
use std::time::Instant;

use protocol::Uuid;
use tokio_util::sync::CancellationToken;

use super::census::Census;
use super::envelope::{Command, Direct};
use super::host::{self, HostHandle};
use super::hosting::Hosting;
use super::link::Sender;
use super::owned_cap::{OwnedCap, Verdict};
use game_core::room::OWNER_FULL;

/// Whether `command` goes to a host: its game's, started now if the cap lets it. False
/// when the cap refused a new game (its socket is closed, "try again later") or the
/// command came from a socket refused already.
pub fn admit(
    hosts: &mut HashMap<Uuid, HostHandle>,
    cap: &mut OwnedCap,
    command: &Command,
    census: &Census,
    hosting: &Hosting,
) -> bool {
    let game = command.game;
    // a host whose room unloaded itself (idle) takes no more commands: it counts no
    // more, and its game starts again only if the cap lets it
    let hosted = |host: &HostHandle| !host.tx.is_closed();
    if hosts.get(&game).is_some_and(hosted) {
        return true;
    }
    let owned = hosts.values().filter(|h| hosted(h)).count();
    let now = Instant::now();
    let running = census.players(game, now) > 0;
    match cap.judge(command, owned, running, now) {
        Verdict::Host { above_cap } => {
            if above_cap {
                tracing::warn!(
                    %game, owned, cap = cap.max(),
                    "a running game taken over above the cap of owned games: new games are refused until below it"
                );
            }
            // after the game's ended host here, if any: the new one applies first what
            // that one took and left
            let previous = hosts.remove(&game).map(|ended| ended.task);
            let host = host::spawn(game, hosting.clone(), CancellationToken::new(), previous);
            hosts.insert(game, host);
            true
        }
        Verdict::Refuse => {
            refuse(&hosting.link, command, owned, cap.max());
            false
        }
        Verdict::Drop => false,
    }
}

/// Has the socket of a new game this instance has no room for closed by its instance,
/// with "try again later" (1013).
fn refuse(link: &Sender, command: &Command, owned: usize, cap: usize) {
    let Some(socket) = command.socket else { return };
    tracing::info!(
        game = %command.game, origin = %command.origin, owned, cap,
        "a new game refused: this instance owns the most games it may"
    );
    link.direct(Direct {
        target: command.origin.clone(),
        game: command.game,
        socket,
        frames: Vec::new(),
        close: Some(OWNER_FULL.to_string()),
    });
}

/// Forgets the hosts that ended with their room (idle); one that took commands after
/// its room unloaded (acknowledged, so they must be applied) is started again at once
/// with them.
pub async fn forget_ended(hosts: &mut HashMap<Uuid, HostHandle>, hosting: &Hosting) {
    let ended: Vec<Uuid> = hosts
        .iter()
        .filter(|(_, host)| host.task.is_finished())
        .map(|(game, _)| *game)
        .collect();
    for game in ended {
        let Some(host) = hosts.remove(&game) else {
            continue;
        };
        let left = host.task.await.unwrap_or_default();
        if !left.is_empty() {
            let previous = tokio::spawn(async move { left });
            let next = host::spawn(
                game,
                hosting.clone(),
                CancellationToken::new(),
                Some(previous),
            );
            hosts.insert(game, next);
        }
    }
}
