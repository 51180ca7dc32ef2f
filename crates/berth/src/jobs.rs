//! Background jobs of `berth serve` (garbage collection, upload expiry,
//! lifecycle, the vulnerability database refresh), each run by one node of
//! the deployment at a time under its lease.

use crate::memory::StartupWork;
use berth_registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Runs `job` whenever it is due on this deployment, as the background job
/// `name`: every node ticks a few times per interval, and the job's lease
/// (`Registry::start_job`) lets one node run it once per `every`, the first
/// time one interval after the deployment first ticked it (so restarts do
/// not each start one). A run longer than the interval holds the lease
/// throughout and is not followed by a burst of runs.
///
/// The first tick is start-up work: `startup` is dropped after it.
pub async fn run_as_job<F, Fut>(
    registry: Arc<Registry>,
    name: &str,
    every: Duration,
    startup: StartupWork,
    job: F,
) where
    F: Fn(Arc<Registry>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let period = (every / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut startup = Some(startup);
    loop {
        tick.tick().await;
        match registry.start_job(name, every).await {
            Ok(Some(lease)) => {
                failing = false;
                job(registry.clone()).await;
                drop(lease);
            }
            Ok(None) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(job = name, error = %e, "cannot take the job's lease; trying again");
                }
                failing = true;
            }
        }
        startup.take();
    }
}
