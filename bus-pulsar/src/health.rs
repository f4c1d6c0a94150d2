//! Whether the bus delivers now, as the clients should be told.
//!
//! The surest sign that the broker works is this instance's own frames coming back
//! through its consumer: every frame is numbered when published, and is in flight until
//! it comes back (or the crate gives up on it). When the oldest one has been in flight
//! for longer than a threshold, or the consumer is down, updates are delayed. A watchdog
//! task sleeps until the oldest frame's deadline or until something changes; it never
//! polls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use game_core::bus::Fanout;

/// Frames in flight and the consumer's state, shared by the bus's tasks.
pub struct Health {
    /// A std mutex: never held across an await.
    state: Mutex<State>,
    /// Wakes the watchdog when the verdict may have changed.
    changed: Notify,
    /// Wakes every [`Health::delivered`] waiter when frames came back or were given up.
    settled: Notify,
}

struct State {
    /// The number the next published frame gets (from 1).
    next: u64,
    /// Frames published and not back yet, oldest first, with when they were published.
    in_flight: VecDeque<(u64, Instant)>,
    /// Whether the consumer is subscribed.
    consumer_up: bool,
}

impl Health {
    pub fn new() -> Self {
        Health {
            state: Mutex::new(State {
                next: 1,
                in_flight: VecDeque::new(),
                consumer_up: true,
            }),
            changed: Notify::new(),
            settled: Notify::new(),
        }
    }

    /// Waits until every frame published so far came back (or was given up on).
    pub async fn delivered(&self) {
        // unwrap: as in `publish`
        let last = self.state.lock().unwrap().next - 1;
        loop {
            // registered before looking, so that a frame coming back in between wakes it
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            // unwrap: as above
            let pending = self
                .state
                .lock()
                .unwrap()
                .in_flight
                .front()
                .is_some_and(|(s, _)| *s <= last);
            if !pending {
                return;
            }
            settled.await;
        }
    }

    /// Numbers a frame and calls `send` with its number, under the lock so that numbers
    /// follow the order frames are queued in; the frame is in flight if `send` says it
    /// was queued.
    pub fn publish(&self, send: impl FnOnce(u64) -> bool) -> bool {
        // unwrap: never held across an await, and nothing panics under it
        let mut state = self.state.lock().unwrap();
        let seq = state.next;
        if !send(seq) {
            return false;
        }
        state.next += 1;
        state.in_flight.push_back((seq, Instant::now()));
        if state.in_flight.len() == 1 {
            self.changed.notify_one();
        }
        true
    }

    /// Our frame `seq` came back: it and every older one are delivered.
    pub fn echoed(&self, seq: u64) {
        // unwrap: as above
        let mut state = self.state.lock().unwrap();
        let before = state.in_flight.len();
        while state.in_flight.front().is_some_and(|(s, _)| *s <= seq) {
            state.in_flight.pop_front();
        }
        if state.in_flight.len() != before {
            self.changed.notify_one();
            self.settled.notify_waiters();
        }
    }

    /// The crate gave up on frame `seq`: it will not come back.
    pub fn lost(&self, seq: u64) {
        // unwrap: as above
        let mut state = self.state.lock().unwrap();
        state.in_flight.retain(|(s, _)| *s != seq);
        self.changed.notify_one();
        self.settled.notify_waiters();
    }

    pub fn consumer_up(&self, up: bool) {
        // unwrap: as above
        self.state.lock().unwrap().consumer_up = up;
        self.changed.notify_one();
    }

    /// Whether updates flow at `now`, and when to look again if nothing changes.
    fn verdict(&self, now: Instant, delayed_after: Duration) -> (bool, Option<Instant>) {
        // unwrap: as above
        let state = self.state.lock().unwrap();
        if !state.consumer_up {
            return (false, None);
        }
        match state.in_flight.front() {
            None => (true, None),
            Some((_, since)) if now >= *since + delayed_after => (false, None),
            Some((_, since)) => (true, Some(*since + delayed_after)),
        }
    }
}

/// Keeps the fan-out's "bus ok" flag up to date until `stop`.
pub async fn watch(
    health: Arc<Health>,
    fanout: Fanout,
    delayed_after: Duration,
    stop: CancellationToken,
) {
    loop {
        let (ok, look_again) = health.verdict(Instant::now(), delayed_after);
        fanout.set_bus_ok(ok);
        let deadline = async {
            match look_again {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = health.changed.notified() => {}
            _ = deadline => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATE: Duration = Duration::from_secs(1);

    #[test]
    fn a_frame_late_to_come_back_means_delayed_until_it_does() {
        let health = Health::new();
        let before = Instant::now();
        assert!(health.publish(|seq| seq == 1));
        assert!(health.publish(|seq| seq == 2));
        let t0 = Instant::now();
        let (ok, look_again) = health.verdict(t0, LATE);
        assert!(ok);
        let look_again = look_again.expect("a deadline");
        assert!(before + LATE <= look_again && look_again <= t0 + LATE);
        assert_eq!(health.verdict(t0 + LATE, LATE), (false, None));
        health.echoed(2);
        assert_eq!(health.verdict(t0 + LATE, LATE), (true, None));
    }

    #[test]
    fn a_lost_frame_is_not_waited_for() {
        let health = Health::new();
        assert!(health.publish(|_| true));
        health.lost(1);
        assert_eq!(health.verdict(Instant::now() + LATE, LATE), (true, None));
    }

    #[test]
    fn a_frame_not_queued_is_not_in_flight_and_keeps_its_number_free() {
        let health = Health::new();
        assert!(!health.publish(|_| false));
        assert!(health.publish(|seq| seq == 1));
    }

    #[test]
    fn a_consumer_down_means_delayed() {
        let health = Health::new();
        health.consumer_up(false);
        assert_eq!(health.verdict(Instant::now(), LATE), (false, None));
        health.consumer_up(true);
        assert_eq!(health.verdict(Instant::now(), LATE), (true, None));
    }

    #[tokio::test]
    async fn delivered_waits_for_the_frames_published_before_not_after() {
        let health = Arc::new(Health::new());
        assert!(health.publish(|_| true));
        assert!(health.publish(|_| true));
        let waiting = tokio::spawn({
            let health = health.clone();
            async move { health.delivered().await }
        });
        // the waiter looks once (frames 1 and 2 in flight) ...
        tokio::task::yield_now().await;
        // ... and does not wait for a frame published later
        assert!(health.publish(|_| true));
        health.echoed(1);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "frame 2 is still in flight");
        health.lost(2);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("frames 1 and 2 are settled")
            .expect("no panic");
    }
}
