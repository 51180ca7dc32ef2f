//! Usage and cost (issue 23; ARCHITECTURE.md, "Usage and cost"): a sample
//! measures every repository (images, logical bytes, stored bytes) and
//! every registry (its blobs counted once per key domain), and accrues the
//! stored bytes of the previous sample over the time since, split at month
//! boundaries (UTC). A GB-month is 2^30 bytes kept for a whole month, as
//! AWS bills storage; the month's estimate adds today's stored bytes for
//! the rest of the month, at the configured price.

use crate::{Registry, Result};
use berth_store::{
    RegistryKey, RepoId, RepositoryMeasure, RepositoryRecord, UsageAccrual, UsageFigures,
    UsageOrder, UsagePoint,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Bytes in the GB of a GB-month.
pub const GIB: f64 = (1u64 << 30) as f64;
/// Repositories measured and recorded per transaction.
const PAGE: u32 = 500;
/// How long each registry's series is kept.
const HISTORY_KEPT_MS: i64 = 400 * 24 * 3600 * 1000;
const HOUR_MS: f64 = 3_600_000.0;

/// What one sample measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageSampled {
    pub repositories: u64,
    pub registries: u64,
    /// Rows of repositories and registries gone since the last sample.
    pub dropped: u64,
}

/// A month of one registry, or of every registry.
#[derive(Debug, Clone)]
pub struct UsageReport {
    /// `2026-12`.
    pub month: String,
    pub price_per_gb_month: f64,
    /// Hours in the month, and of them, elapsed at the report.
    pub month_hours: f64,
    pub elapsed_hours: f64,
    pub registries: Vec<RegistryUsage>,
}

#[derive(Debug, Clone)]
pub struct RegistryUsage {
    pub registry: RegistryKey,
    /// The registry's row of the latest sample (`None`: not sampled yet).
    pub latest: Option<UsageFigures>,
    pub cost: Cost,
    /// Its repositories (when asked), by stored bytes, largest first.
    pub repositories: Vec<RepositoryUsage>,
}

#[derive(Debug, Clone)]
pub struct RepositoryUsage {
    pub latest: Option<UsageFigures>,
    pub name: String,
    pub cost: Cost,
}

/// GB-months of a month and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Accrued from the month's start until the report.
    pub gb_months: f64,
    /// Accrued, plus the latest stored bytes kept until the month ends.
    pub estimated_gb_months: f64,
    pub accrued_cost: f64,
    pub estimated_cost: f64,
}

/// `2026-12` for a time in Unix milliseconds.
pub fn month_of(ms: i64) -> String {
    let t = utc(ms);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

fn utc(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The first millisecond of the month `month` (`2026-12`); `None` unless it is one.
pub fn month_start(month: &str) -> Option<i64> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(y.parse().ok()?, month, 1).ok()?;
    Some(
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp()
            * 1000,
    )
}

/// The first millisecond of the month after the one `ms` falls in.
fn next_month_start(ms: i64) -> i64 {
    let t = utc(ms);
    let (y, m) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let date = Date::from_calendar_date(y, m, 1).expect("the first of a month exists");
    PrimitiveDateTime::new(date, Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp()
        * 1000
}

/// `bytes` kept from `from` to `to` (ms), as byte-hours per month.
pub fn accrue(bytes: u64, from: i64, to: i64) -> Vec<(String, f64)> {
    let mut out = vec![];
    let mut at = from;
    while at < to {
        let end = next_month_start(at).min(to);
        out.push((month_of(at), bytes as f64 * (end - at) as f64 / HOUR_MS));
        at = end;
    }
    out
}

/// The accruals that carry `previous` (a row of the last sample) to `now`.
fn carried(previous: &UsageFigures, now: i64) -> impl Iterator<Item = UsageAccrual> + '_ {
    accrue(previous.stored_bytes, previous.sampled_at, now)
        .into_iter()
        .map(|(month, byte_hours)| UsageAccrual {
            registry: previous.registry.clone(),
            repository: previous.repository.clone(),
            month,
            byte_hours,
        })
}

/// A registry's sums over its repositories, as the sample goes.
#[derive(Default)]
struct Totals {
    images: u64,
    logical_bytes: u64,
    last_pushed_at: Option<i64>,
}

impl Registry {
    /// Takes a sample when none was taken yet in this period of `every`
    /// (periods start at the epoch: an hourly sample falls in each clock
    /// hour); whether it took one. The job runs it every minute on one node.
    pub async fn sample_usage_if_due(&self, every: Duration) -> Result<Option<UsageSampled>> {
        let period = every.as_millis().max(1) as i64;
        let now = self.now();
        if let Some(last) = self.meta.last_usage_sample().await? {
            if last.div_euclid(period) >= now.div_euclid(period) {
                return Ok(None);
            }
        }
        Ok(Some(self.sample_usage().await?))
    }

    /// Measures every repository and registry now and accrues the stored
    /// bytes each held since the last sample. Memory stays bounded: the
    /// repositories go by in pages, each recorded in its own transaction.
    pub async fn sample_usage(&self) -> Result<UsageSampled> {
        // Two samples at once would both accrue from the same previous
        // rows: the job's and an admin's are taken one at a time.
        let _one = self.work_locks.lock("usage-sample").await?;
        let now = self.now();
        let history_after = now - HISTORY_KEPT_MS;
        let mut sampled = UsageSampled::default();
        let mut totals: BTreeMap<RegistryKey, Totals> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self.meta.measure_repositories(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            sampled.repositories += page.len() as u64;
            let previous = self.previous_figures(&page).await?;
            let mut figures = Vec::with_capacity(page.len());
            let mut accruals = vec![];
            for m in page {
                let t = totals.entry(m.registry.clone()).or_default();
                t.images += m.images;
                t.logical_bytes += m.logical_bytes;
                t.last_pushed_at = t.last_pushed_at.max(m.last_pushed_at);
                if let Some(p) = previous.get(&(m.registry.clone(), m.name.clone())) {
                    accruals.extend(carried(p, now));
                }
                figures.push(UsageFigures {
                    registry: m.registry,
                    repository: m.name,
                    sampled_at: now,
                    images: m.images,
                    logical_bytes: m.logical_bytes,
                    stored_bytes: m.stored_bytes,
                    last_pushed_at: m.last_pushed_at,
                });
            }
            self.meta
                .record_usage(&figures, &accruals, &[], history_after)
                .await?;
        }

        let stored: HashMap<RegistryKey, u64> =
            self.meta.measure_registries().await?.into_iter().collect();
        let mut figures = vec![];
        let mut accruals = vec![];
        for (registry, t) in totals {
            let previous = self.meta.usage_figures(&registry, &[String::new()]).await?;
            if let Some(p) = previous.first() {
                accruals.extend(carried(p, now));
            }
            figures.push(UsageFigures {
                stored_bytes: stored.get(&registry).copied().unwrap_or(0),
                registry,
                repository: String::new(),
                sampled_at: now,
                images: t.images,
                logical_bytes: t.logical_bytes,
                last_pushed_at: t.last_pushed_at,
            });
        }
        sampled.registries = figures.len() as u64;
        self.meta
            .record_usage(&figures, &accruals, &[], history_after)
            .await?;

        // What was not measured now is gone: it accrues until now and leaves.
        loop {
            let stale = self.meta.stale_usage(now, PAGE).await?;
            if stale.is_empty() {
                break;
            }
            sampled.dropped += stale.len() as u64;
            let accruals: Vec<_> = stale.iter().flat_map(|p| carried(p, now)).collect();
            let dropped: Vec<_> = stale
                .into_iter()
                .map(|p| (p.registry, p.repository))
                .collect();
            self.meta
                .record_usage(&[], &accruals, &dropped, history_after)
                .await?;
        }
        Ok(sampled)
    }

    async fn previous_figures(
        &self,
        page: &[RepositoryMeasure],
    ) -> Result<HashMap<(RegistryKey, String), UsageFigures>> {
        let mut by_registry: BTreeMap<&RegistryKey, Vec<String>> = BTreeMap::new();
        for m in page {
            by_registry
                .entry(&m.registry)
                .or_default()
                .push(m.name.clone());
        }
        let mut out = HashMap::new();
        for (registry, names) in by_registry {
            for f in self.meta.usage_figures(registry, &names).await? {
                out.insert((f.registry.clone(), f.repository.clone()), f);
            }
        }
        Ok(out)
    }

    /// The usage of `month` (default: the current one) of one registry or
    /// of every registry; with each one's repositories when
    /// `with_repositories`. The current month's figures run to now: the
    /// latest sample's stored bytes count until now and, in the estimate,
    /// until the month ends.
    pub async fn usage_report(
        &self,
        registry: Option<&RegistryKey>,
        month: Option<&str>,
        with_repositories: bool,
    ) -> Result<UsageReport> {
        let now = self.now();
        let month = month.map_or_else(|| month_of(now), str::to_string);
        let start = month_start(&month).ok_or_else(|| {
            crate::Error::InvalidParameter(format!(
                "month '{month}' is not a month: give it as YYYY-MM"
            ))
        })?;
        let end = next_month_start(start);
        let month_ms = (end - start) as f64;
        let to_gb_months = |byte_hours: f64| byte_hours * HOUR_MS / month_ms / GIB;
        let price = self.config.storage_price;
        let registries_only = !with_repositories;
        let latest = self.meta.latest_usage(registry, registries_only).await?;
        let accrued: HashMap<(RegistryKey, String), f64> = self
            .meta
            .usage_accruals(registry, &month, registries_only)
            .await?
            .into_iter()
            .map(|a| ((a.registry, a.repository), a.byte_hours))
            .collect();
        let cost = |latest: Option<&UsageFigures>, byte_hours: f64| {
            // The latest sample's bytes count from it (or the month's
            // start) until now, and in the estimate until the month's end.
            let (mut to_now, mut to_end) = (byte_hours, byte_hours);
            if let Some(l) = latest {
                let from = l.sampled_at.clamp(start, end);
                let bytes = l.stored_bytes as f64;
                to_now += bytes * (now.clamp(from, end) - from) as f64 / HOUR_MS;
                to_end += bytes * (end - from) as f64 / HOUR_MS;
            }
            let (gb_months, estimated_gb_months) = (to_gb_months(to_now), to_gb_months(to_end));
            Cost {
                gb_months,
                estimated_gb_months,
                accrued_cost: gb_months * price,
                estimated_cost: estimated_gb_months * price,
            }
        };
        let mut registries: BTreeMap<RegistryKey, RegistryUsage> = BTreeMap::new();
        let mut keys: Vec<(RegistryKey, String)> = accrued.keys().cloned().collect();
        let latest: HashMap<(RegistryKey, String), UsageFigures> = latest
            .into_iter()
            .map(|f| ((f.registry.clone(), f.repository.clone()), f))
            .collect();
        keys.extend(latest.keys().cloned());
        keys.sort();
        keys.dedup();
        for key in keys {
            let l = latest.get(&key);
            let c = cost(l, accrued.get(&key).copied().unwrap_or(0.0));
            let entry = registries
                .entry(key.0.clone())
                .or_insert_with(|| RegistryUsage {
                    registry: key.0.clone(),
                    latest: None,
                    cost: Cost::default(),
                    repositories: vec![],
                });
            if key.1.is_empty() {
                entry.latest = l.cloned();
                entry.cost = c;
            } else {
                entry.repositories.push(RepositoryUsage {
                    latest: l.cloned(),
                    name: key.1,
                    cost: c,
                });
            }
        }
        let mut registries: Vec<RegistryUsage> = registries.into_values().collect();
        for r in &mut registries {
            r.repositories.sort_by(|a, b| {
                let stored = |u: &RepositoryUsage| u.latest.as_ref().map_or(0, |l| l.stored_bytes);
                stored(b).cmp(&stored(a)).then_with(|| a.name.cmp(&b.name))
            });
        }
        Ok(UsageReport {
            month,
            price_per_gb_month: price,
            month_hours: month_ms / HOUR_MS,
            elapsed_hours: (now.clamp(start, end) - start) as f64 / HOUR_MS,
            registries,
        })
    }

    /// The latest sample's figures of some repositories of a registry, by name.
    pub async fn repository_usage(
        &self,
        registry: &RegistryKey,
        names: &[String],
    ) -> Result<HashMap<String, UsageFigures>> {
        Ok(self
            .meta
            .usage_figures(registry, names)
            .await?
            .into_iter()
            .map(|f| (f.repository.clone(), f))
            .collect())
    }

    /// A registry's repositories whose names start with `prefix`, in
    /// `order` by the latest sample (`limit` after the first `offset`),
    /// with their records: repositories made since that sample are not
    /// among them yet, and ones deleted since are left out.
    pub async fn ranked_repositories(
        &self,
        registry: &RegistryKey,
        prefix: &str,
        order: UsageOrder,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<(RepositoryRecord, UsageFigures)>> {
        let ranked = self
            .meta
            .ranked_usage(registry, prefix, order, offset, limit)
            .await?;
        let mut out = Vec::with_capacity(ranked.len());
        for f in ranked {
            if let Some(r) = self.meta.get_repository(registry, &f.repository).await? {
                out.push((r, f));
            }
        }
        Ok(out)
    }

    /// A registry's stored and logical bytes at each sample since `since`.
    pub async fn usage_history(
        &self,
        registry: &RegistryKey,
        since: i64,
    ) -> Result<Vec<UsagePoint>> {
        Ok(self.meta.usage_history(registry, since).await?)
    }

    /// Live image counts and latest pushes of repositories (the list's
    /// columns that must not wait for a sample), by repository id.
    pub async fn image_counts(
        &self,
        repos: &[RepoId],
    ) -> Result<HashMap<RepoId, (u64, Option<i64>)>> {
        Ok(self
            .meta
            .image_counts(repos)
            .await?
            .into_iter()
            .map(|(id, n, last)| (id, (n, last)))
            .collect())
    }
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
