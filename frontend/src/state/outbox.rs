//! Frames waiting to be written to the socket. The reducer never does IO: it
//! queues frames here, and the app's sending effect writes those it has not written yet.

use std::collections::VecDeque;

/// How many sent frames the outbox remembers; the sender drains it after every render,
/// so it only needs to hold what a burst of key presses queues between two renders.
const OUTBOX_LEN: usize = 32;

/// The queue of frames to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    /// The newest frames, oldest first, each with its sequence number.
    pub frames: VecDeque<(u64, String)>,
    /// Sequence number of the newest frame queued; the sending effect keys on it.
    pub seq: u64,
}

impl Outbox {
    /// Queues one frame, forgetting the oldest beyond [`OUTBOX_LEN`].
    pub fn push(&mut self, text: String) {
        self.seq += 1;
        self.frames.push_back((self.seq, text));
        if self.frames.len() > OUTBOX_LEN {
            self.frames.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_numbered_in_order_and_only_the_newest_are_kept() {
        let mut outbox = Outbox::default();
        for i in 1..=40 {
            outbox.push(format!("frame {i}"));
        }
        assert_eq!(outbox.seq, 40);
        assert_eq!(outbox.frames.len(), OUTBOX_LEN);
        assert_eq!(outbox.frames.front(), Some(&(9, "frame 9".to_string())));
        assert_eq!(outbox.frames.back(), Some(&(40, "frame 40".to_string())));
    }
}
