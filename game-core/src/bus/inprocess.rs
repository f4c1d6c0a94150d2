//! The in-process bus: publishing is delivering to the local fan-out. The default, for a
//! single instance.

use async_trait::async_trait;
use protocol::Uuid;

use super::{Bus, Fanout, Frame};

/// A bus that is just this instance's fan-out.
pub struct InProcessBus {
    /// Where published frames go, at once.
    fanout: Fanout,
}

impl InProcessBus {
    pub fn new(fanout: Fanout) -> Self {
        InProcessBus { fanout }
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn publish(&self, game: Uuid, frame: Frame, seq: u64) {
        self.fanout.deliver(game, frame, Some(seq));
    }

    async fn close(&self) {}
}
