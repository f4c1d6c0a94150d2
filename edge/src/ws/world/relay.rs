//! One wake-up per worker thread for each message of a game's stream, instead of one per
//! socket.
//!
//! Why: a socket's connection runs on one of actix's worker threads (a current-thread
//! runtime each), and a game's updates are sent from its task on another runtime. A
//! task of a current-thread runtime woken from another thread is pushed on the runtime's
//! inject queue and its I/O driver is woken with a write to an eventfd: one `write`
//! syscall per socket per message. Measured at 800 one-socket players x 1 move/s
//! (`perf stat -e syscalls:sys_enter_write,syscalls:sys_enter_sendto -p <server>`):
//! 34,000 writes a second beside the 66,700 sends that carried the updates. Here the
//! outflows of one thread that wait on one stream leave their wakers with the thread's
//! [`Doorbell`]s for it, and one relay task per (thread, stream), the only one the
//! other thread wakes, wakes them on its own thread: no syscall.
//!
//! The outflows read the stream themselves, each from its own receiver
//! (`try_recv`, which registers no waker); the relay only learns that something came.
//! It cannot miss a message for an outflow: an outflow registers after it found its
//! receiver empty, on the relay's thread, so the relay runs, and wakes it, after any
//! message sent since.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::LazyLock;
use std::task::Waker;
use std::time::Duration;

use tokio::time::Instant;

use protocol::Uuid;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use game_core::bus::Wire;

/// A stream of a game (its updates one by one, or its batches), how often its outflows
/// are woken at most (zero: at each message), and for a paced stream the group of them
/// (a phase of the pace: [`PHASES`]).
type Key = (Uuid, bool, Duration, u32);

/// The groups a paced stream's outflows of one thread are spread over, each woken in its
/// own tenth of the pace: 1,000 spectators woken together write for several
/// milliseconds at once, during which the players' batches on the thread wait (their
/// p99 rose 5.8 ms, not 3.1 ms as unpaced; docs/benchmarks.md, "Spectators").
const PHASES: u32 = 10;

thread_local! {
    /// This thread's relays, by stream.
    static RELAYS: RefCell<HashMap<Key, Weak<Shared>>> = RefCell::new(HashMap::new());
    /// The group the next paced outflow of this thread joins.
    static NEXT_PHASE: Cell<u32> = const { Cell::new(0) };
}

/// Where the phases of every paced relay are counted from.
static GRID: LazyLock<Instant> = LazyLock::new(Instant::now);

/// When a paced relay of `phase` woken at `now` wakes next at the earliest: the next
/// start of its phase on the grid of `pace` (so at most once per `pace`, and relays of
/// other phases in between).
fn next_turn(now: Instant, pace: Duration, phase: u32) -> Instant {
    let offset = pace * phase / PHASES;
    let since = now.saturating_duration_since(*GRID + offset).as_nanos();
    let pace_ns = pace.as_nanos();
    now + Duration::from_nanos((pace_ns - since % pace_ns) as u64)
}

/// What a thread's relay for one stream and the doorbells of its outflows share.
struct Shared {
    key: Key,
    /// A receiver of the stream: tells a stream from a later one of the same game (a
    /// game unloaded and loaded back has a new channel). The relay empties it as it
    /// goes: a message is freed only once every receiver has read it, and one left
    /// unread would keep the whole ring's messages alive.
    probe: RefCell<broadcast::Receiver<Wire>>,
    /// The waiting outflows' wakers, by slot; taken when woken.
    wakers: RefCell<Vec<Option<Waker>>>,
    /// Slots of `wakers` no doorbell holds.
    free: RefCell<Vec<usize>>,
}

impl Shared {
    /// Reads the probe up to the end of the stream, so that it holds nothing back.
    fn catch_up(&self) {
        let mut probe = self.probe.borrow_mut();
        while let Ok(_) | Err(TryRecvError::Lagged(_)) = probe.try_recv() {}
    }

    /// Wakes every outflow waiting on the stream.
    fn wake_all(&self) {
        for waker in self.wakers.borrow_mut().iter_mut() {
            if let Some(waker) = waker.take() {
                // on this thread: the task goes on the runtime's local queue
                waker.wake();
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // the last doorbell of this thread for the stream is gone: so is its entry,
        // unless a newer stream of the game took the key meanwhile. `try_with`: at the
        // thread's end the map may be gone first
        let _ = RELAYS.try_with(|relays| {
            let mut relays = relays.borrow_mut();
            if relays.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
                relays.remove(&self.key);
            }
        });
    }
}

/// An outflow's place with its thread's relay for its stream.
pub struct Doorbell {
    shared: Rc<Shared>,
    slot: usize,
}

impl Doorbell {
    /// The doorbell of an outflow of `game`'s stream (`batched` or not) that reads
    /// `updates`, on this thread's relay for it (started on first use), which rings at
    /// most once per `pace` (zero: at each message). Must be called on the thread that
    /// will poll the outflow, inside its runtime.
    pub fn new(
        game: Uuid,
        batched: bool,
        pace: Duration,
        updates: &broadcast::Receiver<Wire>,
    ) -> Self {
        let phase = if pace.is_zero() {
            0
        } else {
            NEXT_PHASE.with(|next| {
                let phase = next.get();
                next.set((phase + 1) % PHASES);
                phase
            })
        };
        let key = (game, batched, pace, phase);
        let shared = RELAYS.with(|relays| {
            let mut relays = relays.borrow_mut();
            if let Some(shared) = relays.get(&key).and_then(Weak::upgrade) {
                if shared.probe.borrow().same_channel(updates) {
                    return shared;
                }
            }
            let shared = Rc::new(Shared {
                key,
                probe: RefCell::new(updates.resubscribe()),
                wakers: RefCell::new(Vec::new()),
                free: RefCell::new(Vec::new()),
            });
            relays.insert(key, Rc::downgrade(&shared));
            tokio::task::spawn_local(relay(
                updates.resubscribe(),
                pace,
                phase,
                Rc::downgrade(&shared),
            ));
            shared
        });
        let slot = match shared.free.borrow_mut().pop() {
            Some(slot) => slot,
            None => {
                let mut wakers = shared.wakers.borrow_mut();
                wakers.push(None);
                wakers.len() - 1
            }
        };
        Doorbell { shared, slot }
    }

    /// Wakes `waker` when the stream has something new.
    pub fn register(&self, waker: &Waker) {
        let mut wakers = self.shared.wakers.borrow_mut();
        let held = &mut wakers[self.slot];
        if !held.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *held = Some(waker.clone());
        }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        self.shared.wakers.borrow_mut()[self.slot] = None;
        self.shared.free.borrow_mut().push(self.slot);
    }
}

/// Waits on the stream and wakes the thread's waiting outflows, at most once per `pace`,
/// until they are all gone or the stream ends.
///
/// A paced relay (spectators': docs/protocol.md, "Spectators") waits after each wake-up
/// for its next turn, the start of its `phase` in the next `pace`: what came meanwhile
/// waits in the outflows' receivers, and each outflow then writes all of it in one poll
/// and one syscall. Nothing is missed, only held back at most `pace`: the relay's own
/// receiver holds what came, so its next `recv` returns at once.
async fn relay(
    mut updates: broadcast::Receiver<Wire>,
    pace: Duration,
    phase: u32,
    shared: Weak<Shared>,
) {
    loop {
        let ended = match updates.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {
                // what else came meanwhile needs no wake-up of its own
                loop {
                    match updates.try_recv() {
                        Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                        Err(TryRecvError::Empty) => break false,
                        Err(TryRecvError::Closed) => break true,
                    }
                }
            }
            Err(RecvError::Closed) => true,
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.catch_up();
        // an outflow woken on a closed stream finds it closed itself
        shared.wake_all();
        if ended {
            return;
        }
        // not held while waiting: the last doorbell's drop must free the relay's entry
        drop(shared);
        if !pace.is_zero() {
            tokio::time::sleep_until(next_turn(Instant::now(), pace, phase)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Poll;
    use std::time::Duration;

    use super::*;

    fn wire(n: u8) -> Wire {
        Wire::text(&format!("[{n}]"))
    }

    /// Reads `updates` as an outflow does until it has `n` messages or the stream ends.
    async fn read(mut updates: broadcast::Receiver<Wire>, doorbell: Doorbell, n: usize) -> usize {
        let mut got = 0;
        poll_fn(|cx| loop {
            match updates.try_recv() {
                Ok(_) => {
                    got += 1;
                    if got == n {
                        return Poll::Ready(());
                    }
                }
                Err(TryRecvError::Empty) => {
                    doorbell.register(cx.waker());
                    return Poll::Pending;
                }
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Closed) => return Poll::Ready(()),
            }
        })
        .await;
        got
    }

    fn local() -> (tokio::runtime::Runtime, tokio::task::LocalSet) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (runtime, tokio::task::LocalSet::new())
    }

    #[test]
    fn outflows_of_a_thread_get_every_message_sent_from_another_thread() {
        let (runtime, local) = local();
        let (sender, _) = broadcast::channel::<Wire>(1024);
        let game = Uuid::new_v4();
        let got = local.block_on(&runtime, async {
            let readers: Vec<_> = (0..50)
                .map(|_| {
                    let updates = sender.subscribe();
                    let doorbell = Doorbell::new(game, true, Duration::ZERO, &updates);
                    tokio::task::spawn_local(read(updates, doorbell, 300))
                })
                .collect();
            let sender = sender.clone();
            // the game's task, on another thread, sending in bursts and one by one
            let game_task = std::thread::spawn(move || {
                for n in 0..300u16 {
                    sender.send(wire((n % 200) as u8)).unwrap();
                    if n % 7 == 0 {
                        std::thread::sleep(Duration::from_micros(300));
                    }
                }
            });
            let mut got = Vec::new();
            for reader in readers {
                got.push(
                    tokio::time::timeout(Duration::from_secs(20), reader)
                        .await
                        .expect("an outflow was never woken for a message")
                        .unwrap(),
                );
            }
            // (a count kept by the sender after each send could lag the readers: the
            // thread is joined instead, once every reader is done)
            game_task.join().unwrap();
            got
        });
        assert!(got.iter().all(|&n| n == 300), "{got:?}");
    }

    #[test]
    fn a_paced_relay_wakes_its_outflows_at_most_once_a_pace_and_they_get_every_message() {
        const PACE: Duration = Duration::from_millis(100);
        let (runtime, local) = local();
        let (sender, _) = broadcast::channel::<Wire>(1024);
        let game = Uuid::new_v4();
        let started = std::time::Instant::now();
        let (got, polls) = local.block_on(&runtime, async {
            let updates = sender.subscribe();
            let doorbell = Doorbell::new(game, true, PACE, &updates);
            let reader = tokio::task::spawn_local(async move {
                let (mut updates, mut got, mut polls) = (updates, 0, 0);
                poll_fn(|cx| {
                    polls += 1;
                    loop {
                        match updates.try_recv() {
                            Ok(_) => got += 1,
                            Err(TryRecvError::Empty) if got < 200 => {
                                doorbell.register(cx.waker());
                                return Poll::Pending;
                            }
                            Err(_) => return Poll::Ready(()),
                        }
                    }
                })
                .await;
                (got, polls)
            });
            // 200 messages over about 600 ms, one every 3 ms
            let game_task = std::thread::spawn(move || {
                for n in 0..200u8 {
                    sender.send(wire(n)).unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                }
            });
            let read = tokio::time::timeout(Duration::from_secs(20), reader)
                .await
                .expect("the paced outflow was never woken for the last messages")
                .unwrap();
            game_task.join().unwrap();
            read
        });
        assert_eq!(got, 200, "every message read");
        // the first poll, then at most one wake-up a pace (a slow machine only makes
        // fewer); an unpaced relay wakes it about once a message
        let most = 2 + (started.elapsed().as_millis() / PACE.as_millis()) as usize;
        assert!(polls <= most, "{polls} polls, at most {most} expected");
    }

    #[test]
    fn each_phase_of_a_pace_has_its_own_turn_at_most_once_a_pace() {
        let pace = Duration::from_millis(100);
        let start = *GRID + Duration::from_secs(5);
        for phase in 0..PHASES {
            let turn = start + pace * phase / PHASES;
            // woken at its turn, or a little after: the next is one pace after its turn
            for late in [0, 1, 37, 99] {
                let now = turn + Duration::from_millis(late);
                assert_eq!(next_turn(now, pace, phase), turn + pace, "{phase} {late}");
            }
        }
    }

    #[test]
    fn one_relay_per_stream_and_thread_and_none_left_behind() {
        let (runtime, local) = local();
        let game = Uuid::new_v4();
        local.block_on(&runtime, async {
            let (first, _) = broadcast::channel::<Wire>(16);
            let a = first.subscribe();
            let b = first.subscribe();
            let (da, db) = (
                Doorbell::new(game, true, Duration::ZERO, &a),
                Doorbell::new(game, true, Duration::ZERO, &b),
            );
            assert!(
                Rc::ptr_eq(&da.shared, &db.shared),
                "one relay for the stream"
            );
            let unbatched = Doorbell::new(game, false, Duration::ZERO, &a);
            assert!(!Rc::ptr_eq(&da.shared, &unbatched.shared), "another stream");
            let pace = Duration::from_millis(100);
            let paced: Vec<Doorbell> = (0..=PHASES)
                .map(|_| Doorbell::new(game, true, pace, &a))
                .collect();
            assert!(!Rc::ptr_eq(&da.shared, &paced[0].shared), "another pace");
            // spread over the phases, the first and the last in one
            let groups: std::collections::HashSet<_> =
                paced.iter().map(|d| Rc::as_ptr(&d.shared)).collect();
            assert_eq!(groups.len(), PHASES as usize);
            assert!(Rc::ptr_eq(&paced[0].shared, &paced[PHASES as usize].shared));
            // the game loaded back: a new channel under the same key gets its own relay
            let (second, _) = broadcast::channel::<Wire>(16);
            let c = second.subscribe();
            let dc = Doorbell::new(game, true, Duration::ZERO, &c);
            assert!(!Rc::ptr_eq(&da.shared, &dc.shared));
            drop((da, db, unbatched, paced, dc));
            RELAYS.with(|relays| assert!(relays.borrow().is_empty(), "entries left behind"));
        });
    }

    #[test]
    fn the_relay_holds_back_no_message_its_outflows_have_read() {
        let (runtime, local) = local();
        let game = Uuid::new_v4();
        local.block_on(&runtime, async {
            let (sender, _) = broadcast::channel::<Wire>(16);
            let updates = sender.subscribe();
            let doorbell = Doorbell::new(game, true, Duration::ZERO, &updates);
            let shared = Rc::clone(&doorbell.shared);
            let reader = tokio::task::spawn_local(read(updates, doorbell, 3));
            tokio::task::yield_now().await;
            for n in 0..3 {
                sender.send(wire(n)).unwrap();
            }
            reader.await.unwrap();
            // the relay ran before the reader could read: it has read them too
            assert_eq!(shared.probe.borrow().len(), 0, "messages kept alive");
        });
    }

    #[test]
    fn an_outflow_waiting_on_a_stream_that_ends_is_woken() {
        let (runtime, local) = local();
        let game = Uuid::new_v4();
        local.block_on(&runtime, async {
            let (sender, _) = broadcast::channel::<Wire>(16);
            let updates = sender.subscribe();
            let doorbell = Doorbell::new(game, true, Duration::ZERO, &updates);
            let reader = tokio::task::spawn_local(read(updates, doorbell, 10));
            tokio::task::yield_now().await;
            std::thread::spawn(move || drop(sender));
            let got = tokio::time::timeout(Duration::from_secs(20), reader)
                .await
                .expect("never woken when the stream ended")
                .unwrap();
            assert_eq!(got, 0);
        });
    }
}
