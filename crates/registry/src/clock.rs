use std::time::{SystemTime, UNIX_EPOCH};

/// The registry's only source of time, so that tests can drive it.
pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_millis(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
