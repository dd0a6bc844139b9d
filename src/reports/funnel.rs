//! The referral funnel: referrals made in a date range, how far each got, and how long
//! acknowledgement took. Read in keyset chunks; counters and the acknowledgement-time
//! histograms are fixed in size (one per scheme and district), whatever the number of
//! referrals.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::registry::effective_status;
use crate::db::DbConnection;
use crate::db::schema::{referral_events, referrals};

/// Referrals read per query.
const CHUNK: i64 = 20_000;

/// The counted columns, in order (statistics follow in the report).
pub const COUNTS: [&str; 7] = ["referred", "acknowledged", "enrolled", "rejected", "withdrawn", "expired", "open"];

/// Acknowledgement times are kept in hour buckets for the first 30 days, then in day buckets
/// up to 400 days (longer: the last bucket): 1,091 buckets per scheme and district.
const HOUR_BUCKETS: usize = 30 * 24;
const BUCKETS: usize = HOUR_BUCKETS + 371;

fn bucket(hours: i64) -> usize {
    let hours = hours.max(0) as usize;
    if hours < HOUR_BUCKETS { hours } else { (HOUR_BUCKETS + hours / 24 - 30).min(BUCKETS - 1) }
}

fn bucket_days(b: usize) -> f64 {
    if b < HOUR_BUCKETS { b as f64 / 24.0 } else { (30 + b - HOUR_BUCKETS) as f64 }
}

/// Counts and acknowledgement times of one scheme in one district.
#[derive(Debug, Clone)]
pub struct Cell {
    /// By [`COUNTS`].
    pub counts: [u64; 7],
    /// Times to acknowledgement (see [`bucket`]).
    pub hours: Vec<u32>,
}

impl Default for Cell {
    fn default() -> Self {
        Cell { counts: [0; 7], hours: vec![0; BUCKETS] }
    }
}

impl Cell {
    pub fn absorb(&mut self, other: &Cell) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (a, b) in self.hours.iter_mut().zip(&other.hours) {
            *a += b;
        }
    }

    /// How many acknowledgements the times rest on.
    pub fn timed(&self) -> u64 {
        self.hours.iter().map(|&n| u64::from(n)).sum()
    }

    /// The `q` quantile of the time to acknowledgement, in days (nearest rank, hour precision).
    pub fn quantile_days(&self, q: f64) -> Option<f64> {
        let n = self.timed();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (b, &k) in self.hours.iter().enumerate() {
            seen += u64::from(k);
            if seen >= rank {
                return Some(bucket_days(b));
            }
        }
        None
    }
}

/// The funnel's counters: by (scheme position, district row).
pub type Cells = HashMap<(usize, usize), Cell>;

/// Reads the referrals made from `from` to `to` (both whole days in Pakistan) of the schemes
/// and districts in scope, with their status at the end of `to`.
pub fn tally(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    schemes: &HashMap<&str, usize>,
    districts: &HashMap<&str, usize>,
    scoped: Option<&[String]>,
    scoped_schemes: Option<&[String]>,
) -> QueryResult<Cells> {
    let start = super::registry::cutoff(from.pred_opt().unwrap_or(from));
    let end = super::registry::cutoff(to);
    let past = to < crate::registry::warnings::today_in_pakistan();
    let mut cells: Cells = HashMap::new();
    // Keyset by (referred_at, id): the index `referrals_referred` walks exactly the range.
    let mut after: Option<(NaiveDateTime, String)> = None;
    loop {
        let mut q = referrals::table
            .filter(referrals::referred_at.ge(start))
            .filter(referrals::referred_at.lt(end))
            .select((
                referrals::id,
                referrals::scheme_id,
                referrals::district_code,
                referrals::status,
                referrals::referred_at,
                referrals::acknowledge_by,
                referrals::acknowledged_at,
            ))
            .order((referrals::referred_at, referrals::id))
            .limit(CHUNK)
            .into_boxed();
        if let Some(list) = scoped_schemes {
            q = q.filter(referrals::scheme_id.eq_any(list.to_vec()));
        }
        if let Some((at, id)) = &after {
            // The first condition alone is what an index range can start from.
            q = q.filter(referrals::referred_at.ge(*at)).filter(
                referrals::referred_at.gt(*at).or(referrals::referred_at.eq(*at).and(referrals::id.gt(id.clone()))),
            );
        }
        if let Some(ds) = scoped {
            q = q.filter(referrals::district_code.eq_any(ds.to_vec()));
        }
        type Row = (String, String, String, String, NaiveDateTime, NaiveDate, Option<NaiveDateTime>);
        let rows: Vec<Row> = q.load(conn)?;
        let Some(last) = rows.last().map(|r| (r.4, r.0.clone())) else { break };
        let full = rows.len() as i64 == CHUNK;
        // For a range that ended before today, each referral's status then: the last step of
        // its ledger up to the end (the ledger read only for such ranges).
        let mut events: Vec<(String, String)> = Vec::new();
        if past {
            let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            events = referral_events::table
                .filter(referral_events::referral_id.eq_any(ids))
                .filter(referral_events::occurred_at.lt(end))
                .select((referral_events::referral_id, referral_events::to_status))
                .order((referral_events::occurred_at, referral_events::id))
                .load(conn)?;
        }
        let mut status_then: HashMap<&str, &str> = HashMap::new();
        for (rid, status) in &events {
            status_then.insert(rid.as_str(), status.as_str());
        }
        for (id, scheme, district, status, referred_at, due, acknowledged_at) in &rows {
            let (Some(&s), Some(&d)) = (schemes.get(scheme.as_str()), districts.get(district.as_str())) else {
                continue;
            };
            let status = if past { status_then.get(id.as_str()).copied().unwrap_or(status) } else { status.as_str() };
            let status = effective_status(status, *due, to);
            let cell = cells.entry((s, d)).or_default();
            cell.counts[0] += 1;
            let ack = acknowledged_at.filter(|at| *at < end);
            if ack.is_some() || status == "enrolled" || status == "rejected" {
                cell.counts[1] += 1;
            }
            match status {
                "enrolled" => cell.counts[2] += 1,
                "rejected" => cell.counts[3] += 1,
                "withdrawn" => cell.counts[4] += 1,
                "expired" => cell.counts[5] += 1,
                _ => cell.counts[6] += 1,
            }
            if let Some(at) = ack {
                cell.hours[bucket((at - *referred_at).num_hours())] += 1;
            }
        }
        if !full {
            break;
        }
        after = Some(last);
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_in_days() {
        let mut c = Cell::default();
        for h in [24, 48, 72, 96, 240] {
            c.hours[bucket(h)] += 1;
        }
        c.hours[bucket(24 * 45 + 5)] += 1;
        assert_eq!(c.quantile_days(1.0), Some(45.0));
        c.hours[bucket(24 * 45 + 5)] -= 1;
        assert_eq!(c.quantile_days(0.5), Some(3.0));
        assert_eq!(c.quantile_days(0.9), Some(10.0));
        assert_eq!(Cell::default().quantile_days(0.5), None);
    }
}
