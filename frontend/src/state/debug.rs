//! What the status bar shows of the traffic: the last frame each way, as text.

/// The last frames sent and received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastFrames {
    /// The last frame we sent, as text.
    pub last_sent: String,
    /// The last frame we received, as text (a whole batch of the batched stream).
    pub last_received: String,
}

#[cfg(test)]
mod tests {
    use crate::state::testing::*;
    use crate::state::{Action, Socket};

    #[test]
    fn the_last_frames_each_way_are_shown_as_they_went() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        let batch = format!(
            "[{},{}]",
            player_frame(OTHER, 3, 4, 0),
            player_frame(OTHER, 3, 5, 1)
        );
        receive(&mut s, Socket::World, &batch);
        assert_eq!(
            s.debug.last_sent,
            r#"{"messageType":"player","payload":{"x":11,"y":10,"h":false,"generation":1,"name":"Argiope"}}"#
        );
        assert_eq!(s.debug.last_received, batch);
    }
}
