//! Taking a game over: a new epoch (so that every instance drops what an earlier owner
//! publishes from then on), the game's checkpoint, the take-over marker on the world
//! topic, the stored game, and the world frames published since the checkpoint, up to
//! the marker ([`super::start`], [`super::tail`]). Retried while the store or the
//! broker fails; the tail read has a deadline of its own (the broker may stop
//! answering a reader), after which it fails and is retried too.

use std::time::Duration;

use protocol::Uuid;
use rand::{rngs::StdRng, SeedableRng};
use tokio_util::sync::CancellationToken;

use super::hosting::Hosting;
use super::start::start;
use super::{replay, tail};
use bus_pulsar::contract::MARKER;
use game_core::room;
use game_core::rules;

/// Takes `game` over: claims a new epoch (so every instance drops what an earlier
/// owner publishes from the marker on), reads the game's checkpoint, publishes the
/// take-over marker, loads the stored game and applies the world frames published
/// since the checkpoint. Retries while the store or the broker fails, until `stop`
/// fires. Returns the game, the epoch and the tail.
///
/// The checkpoint is read before the marker goes out, so its position lies before the
/// marker; and before the rows, so the rows are at least as new as it.
pub async fn take_over(
    game: Uuid,
    hosting: &Hosting,
    stop: &CancellationToken,
) -> Option<(room::Stored, u64, tail::Tail)> {
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = async {
            let epoch = hosting
                .store
                .claim_epoch(game, &hosting.instance)
                .await
                .map_err(|e| e.to_string())?;
            hosting.fence.own(game, epoch);
            let checkpoint = hosting
                .store
                .checkpoint(game)
                .await
                .map_err(|e| e.to_string())?;
            let nonce = Uuid::new_v4().to_string();
            hosting.world.notify(game, MARKER, nonce.clone());
            let rows = hosting.store.load(game).await.map_err(|e| e.to_string())?;
            let from = start(checkpoint.as_ref(), !rows.is_empty(), epoch);
            tracing::info!(%game, epoch, from = %from, "replaying the world topic");
            let tail =
                tail::read(&hosting.client, &hosting.world_topic, game, &nonce, &from).await?;
            let mut state = replay::restore(game, hosting.board, &rows).unwrap_or_else(|| {
                rules::new_game(game, hosting.board, &mut StdRng::from_entropy())
            });
            for frame in &tail.frames {
                replay::apply(&mut state, frame);
            }
            // a player the tail shows back in the game has not left any more
            let mut departures = room::departures_of(&rows);
            for (player, _) in state.active_players() {
                departures.returned(player);
            }
            // fresh: every row is written again under the new epoch (a departed
            // player's with what is left of its expiry)
            let stored = room::Stored {
                game: state,
                departures,
                tokens: room::tokens_of(&rows),
                fresh: true,
                // the new owner numbers its frames after the old owner's last one
                last_seq: tail.last_seq,
            };
            Ok::<_, String>((stored, epoch, tail))
        };
        let result = tokio::select! {
            _ = stop.cancelled() => return None,
            result = attempt => result,
        };
        match result {
            Ok(taken) => return Some(taken),
            Err(e) => tracing::warn!(%game, error = %e, "take-over failed, retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
