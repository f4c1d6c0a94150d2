//! The room's task: commands in order, the idle unload (the writer's barrier, then the
//! lease), and the periodic check for players to forget.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::OptionFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::lease::Lease;
use super::play::Play;
use super::sockets::Admission;
use super::Command;

/// Bounds of the period of the check for players to forget.
const PRUNE_TICK_MIN: Duration = Duration::from_millis(100);
const PRUNE_TICK_MAX: Duration = Duration::from_secs(60);

/// The task of the room `play`, serving `rx`. It stops when `shutdown` fires, when every
/// handle is gone, or when it has had no player socket for `idle` and `lease` lets it
/// go.
pub(super) fn run(
    mut play: Play,
    mut rx: mpsc::Receiver<Command>,
    lease: Lease,
    shutdown: CancellationToken,
    idle: Duration,
    prune_after: Duration,
) -> impl Future<Output = ()> {
    let id = play.game.id;
    // checks for players due to be forgotten; a few times per prune time, at most once
    // a minute, so a player is kept at most that much longer
    let mut prune_tick =
        tokio::time::interval((prune_after / 4).clamp(PRUNE_TICK_MIN, PRUNE_TICK_MAX));
    prune_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    async move {
        // armed whenever the last player socket is gone; a turn of the loop re-arms it
        // only on that change, so a busy room never touches the timer
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        let mut was_idle = true;
        // once idle: waits until the store writer wrote every row of the game, so that a
        // game loaded back is never stale; commands keep flowing meanwhile
        let mut flushing: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
        let unloaded = loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break false,
                command = rx.recv() => match command {
                    Some(command) => {
                        handle(&mut play, command);
                        play.after_command();
                    }
                    None => break false,
                },
                _ = &mut idle_timer, if was_idle && flushing.is_none() => {
                    let writer = play.rows.writer();
                    flushing = Some(Box::pin(async move { writer.flushed(id).await }));
                }
                Some(()) = OptionFuture::from(flushing.as_mut()), if flushing.is_some() => {
                    flushing = None;
                    if play.sockets.is_empty() && lease.release_if(|| rx.is_empty()) {
                        break true;
                    }
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                }
                _ = prune_tick.tick() => play.prune(),
            }
            let idle_now = play.sockets.is_empty();
            if idle_now && !was_idle {
                idle_timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + idle);
            }
            was_idle = idle_now;
        };
        tracing::info!(game = %id, unloaded, "room stopped");
    }
}

/// Applies one command.
fn handle(play: &mut Play, command: Command) {
    match command {
        Command::Connect {
            player,
            outbox,
            reattached,
            reply,
        } => {
            let answer = play.sockets.connect(player, outbox, reattached);
            // the socket may have gone meanwhile; it then disconnects as usual
            let _ = reply.send(answer);
        }
        Command::Disconnect { player, conn } => {
            if play.sockets.disconnect(player, conn) {
                play.leave(player);
            }
        }
        Command::Message {
            player,
            conn,
            message,
            cause,
        } => {
            play.world.caused_by(cause);
            match play.sockets.admit(player, conn, &message) {
                Admission::Play => play.message(player, message),
                Admission::Leave => play.leave(player),
                Admission::Ignore => {}
            }
            play.world.caused_by(None);
        }
        Command::Watch { outbox } => play.watched(&outbox),
    }
}
