//! Quotas on pulls from public repositories (issue 24): a token bucket per
//! source IP for anonymous pulls and per account for authenticated ones,
//! on this node. A pull is a manifest GET (blob GETs of a pulled image are
//! not counted, as on ECR Public). Buckets are per node, not shared: a
//! shared bucket would put a database write on every anonymous pull, which
//! the pull path must not have; N nodes behind a balancer allow up to N×.
//!
//! Hand-written over `quick_cache` rather than `governor`'s keyed limiter:
//! the cache bounds the buckets' memory by itself (governor's map grows
//! with every key until a sweeper task prunes it), and a bucket is ten lines.

use parking_lot::Mutex;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::time::Instant;

/// Buckets kept at once; an evicted bucket starts full again.
const BUCKETS: usize = 100_000;

/// A rate with its burst; `per_second` 0 means unlimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

impl Limit {
    pub const UNLIMITED: Limit = Limit {
        per_second: 0.0,
        burst: 0.0,
    };
}

/// ECR Public's published quotas: 1 pull per second per IP without
/// credentials, 10 per second per account with them; a burst of 10 lets a
/// multi-platform image's few manifests through at once.
pub const DEFAULT_ANONYMOUS: Limit = Limit {
    per_second: 1.0,
    burst: 10.0,
};
pub const DEFAULT_AUTHENTICATED: Limit = Limit {
    per_second: 10.0,
    burst: 100.0,
};

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttled {
    /// Whole seconds until a pull would be allowed (`Retry-After`).
    RetryAfter(u64),
}

pub struct PullQuotas {
    pub anonymous: Limit,
    pub authenticated: Limit,
    buckets: Cache<String, Arc<Mutex<Bucket>>>,
}

impl PullQuotas {
    pub fn new(anonymous: Limit, authenticated: Limit) -> Self {
        PullQuotas {
            anonymous,
            authenticated,
            buckets: Cache::new(BUCKETS),
        }
    }

    /// Takes one pull from `key`'s bucket under `limit`, or says how long
    /// until one is there.
    pub fn take(&self, key: &str, limit: Limit) -> Result<(), Throttled> {
        self.take_at(key, limit, Instant::now())
    }

    fn take_at(&self, key: &str, limit: Limit, now: Instant) -> Result<(), Throttled> {
        if limit.per_second <= 0.0 {
            return Ok(());
        }
        let burst = limit.burst.max(1.0);
        let bucket = self
            .buckets
            .get_or_insert_with(key, || {
                Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Bucket {
                    tokens: burst,
                    at: now,
                })))
            })
            .unwrap_or_else(|never| match never {});
        let mut b = bucket.lock();
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limit.per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - b.tokens) / limit.per_second;
        Err(Throttled::RetryAfter(wait.ceil().max(1.0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let q = PullQuotas::new(DEFAULT_ANONYMOUS, DEFAULT_AUTHENTICATED);
        let limit = Limit {
            per_second: 0.5,
            burst: 3.0,
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(q.take_at("ip:1", limit, t0), Ok(()));
        }
        assert_eq!(q.take_at("ip:1", limit, t0), Err(Throttled::RetryAfter(2)));
        // Another key has its own bucket.
        assert_eq!(q.take_at("ip:2", limit, t0), Ok(()));
        // Two seconds at 0.5/s bring one pull back, and only one.
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(q.take_at("ip:1", limit, t2), Ok(()));
        assert!(q.take_at("ip:1", limit, t2).is_err());
        // A long wait refills to the burst, no further.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(q.take_at("ip:1", limit, later), Ok(()));
        }
        assert!(q.take_at("ip:1", limit, later).is_err());
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let q = PullQuotas::new(Limit::UNLIMITED, Limit::UNLIMITED);
        for _ in 0..1000 {
            assert_eq!(q.take("ip:1", Limit::UNLIMITED), Ok(()));
        }
    }
}
