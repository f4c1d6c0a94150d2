//! A game's batched world stream: one task per game with batched sockets here reads the
//! game's frames and sends them on, several to a message, at most once per interval.
//! Each batch is built once ([`Wire::batch`]) and shared by every batched socket of the
//! game, so a socket's cost per update is a share of one write, not one write.
//!
//! Flushing: a frame that comes after a quiet spell (no batch within the interval) goes
//! out at once, alone; frames that come sooner wait for the interval to end and go out
//! together. A lone update is never held back; a busy game sends at most one message
//! per interval to each socket.

use std::time::Duration;

use protocol::Uuid;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::time::Instant;

use super::{Fanout, Wire};

/// What one game's batch task works with.
pub struct Batcher {
    /// The game, to end its batched stream in the fan-out.
    pub game: Uuid,
    /// The game's frames, one each, from the fan-out.
    pub frames: broadcast::Receiver<Wire>,
    /// Where the batches go: the game's batched sockets.
    pub batches: broadcast::Sender<Wire>,
    pub fanout: Fanout,
    /// The shortest time between two batches.
    pub interval: Duration,
}

/// When the batch holding a frame that arrived at `now` goes out: at once after a quiet
/// spell, else when the interval since the last batch ends.
fn flush_at(last: Option<Instant>, now: Instant, interval: Duration) -> Instant {
    match last {
        Some(last) if now < last + interval => last + interval,
        _ => now,
    }
}

/// Runs until the game's batched sockets are all gone.
pub async fn run(mut b: Batcher) {
    let mut pending: Vec<Wire> = Vec::new();
    let mut last: Option<Instant> = None;
    loop {
        match b.frames.recv().await {
            Ok(frame) => pending.push(frame),
            Err(RecvError::Lagged(missed)) => return lagged(&b, missed),
            Err(RecvError::Closed) => return,
        }
        let at = flush_at(last, Instant::now(), b.interval);
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        loop {
            match b.frames.try_recv() {
                Ok(frame) => pending.push(frame),
                Err(TryRecvError::Lagged(missed)) => return lagged(&b, missed),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let batch = Wire::batch(&pending);
        let through = pending.iter().rev().find_map(Wire::seq);
        pending.clear();
        last = Some(Instant::now());
        if !b.fanout.send_batch(b.game, &b.batches, batch, through)
            && b.fanout.end_batches(b.game, &b.batches, false)
        {
            return;
        }
    }
}

/// The task fell behind the game's frames (the machine starved it for a whole ring):
/// its sockets would miss updates, so the stream ends and they are closed (to reconnect).
fn lagged(b: &Batcher, missed: u64) {
    tracing::warn!(game = %b.game, missed, "batch task too slow; ending the batched stream");
    b.fanout.end_batches(b.game, &b.batches, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> crate::bus::Frame {
        crate::bus::Frame::from(format!("{{\"n\":{n}}}"))
    }

    fn json(wire: &Wire) -> String {
        String::from_utf8(wire.json().to_vec()).unwrap()
    }

    #[test]
    fn a_frame_after_a_quiet_spell_goes_at_once_and_one_soon_after_waits() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(flush_at(None, t, ms(10)), t);
        assert_eq!(flush_at(Some(t), t + ms(3), ms(10)), t + ms(10));
        assert_eq!(flush_at(Some(t), t + ms(10), ms(10)), t + ms(10));
        assert_eq!(flush_at(Some(t), t + ms(25), ms(10)), t + ms(25));
    }

    #[tokio::test]
    async fn frames_come_in_order_batched_per_interval_and_a_lone_one_at_once() {
        let fanout = Fanout::new(64, Duration::from_millis(10));
        let game = Uuid::from_u128(7);
        let mut batched = fanout.subscribe_batched(game);
        fanout.deliver(game, frame(1), None);
        // the first frame goes alone, at once
        assert_eq!(json(&batched.recv().await.unwrap()), r#"[{"n":1}]"#);
        // the next ones, within the interval, wait for it and go together (the task
        // runs only when this test awaits: all three are queued by then)
        for n in 2..=4 {
            fanout.deliver(game, frame(n), None);
        }
        assert_eq!(
            json(&batched.recv().await.unwrap()),
            r#"[{"n":2},{"n":3},{"n":4}]"#
        );
        // after a quiet spell, a lone frame is not held back
        tokio::time::sleep(Duration::from_millis(50)).await;
        fanout.deliver(game, frame(5), None);
        assert_eq!(json(&batched.recv().await.unwrap()), r#"[{"n":5}]"#);
    }

    #[tokio::test]
    async fn the_task_ends_with_its_last_socket_and_a_new_socket_starts_another() {
        let fanout = Fanout::new(64, Duration::from_millis(10));
        let game = Uuid::from_u128(7);
        drop(fanout.subscribe_batched(game));
        fanout.deliver(game, frame(1), None);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(fanout.games.lock().unwrap()[&game].batches.is_none());
        let mut again = fanout.subscribe_batched(game);
        fanout.deliver(game, frame(2), None);
        assert_eq!(json(&again.recv().await.unwrap()), r#"[{"n":2}]"#);
    }
}
