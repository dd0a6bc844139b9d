//! Walking the audit chains: recomputes every MAC of every chain in sequence order and
//! reports the first event that does not fit (modified, deleted, inserted or reordered), or
//! the count. Memory stays constant: events are read in batches.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::repo::{AuditEventRow, batch_after};
use super::{AuditKey, Canonical, format_ts};
use crate::db::DbConnection;
use crate::db::schema::{audit_chains, audit_events};

/// The genesis `prev_mac` of the first event of every chain.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The verifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VerifyReport {
    /// True when every event and every chain head check out.
    pub ok: bool,
    /// Events checked.
    pub count: i64,
    /// Chains checked.
    pub chains: i64,
    /// The chain of the first broken link, if any.
    pub broken_chain: Option<String>,
    /// The sequence number (within that chain) of the first broken link.
    pub first_broken_seq: Option<i64>,
    /// Why that link is broken.
    pub reason: Option<String>,
}

fn check_row(key: &AuditKey, row: &AuditEventRow, expected_seq: i64, prev_mac: &str) -> Option<&'static str> {
    if row.seq != expected_seq {
        return Some("sequence gap: an event is missing before this one");
    }
    if row.prev_mac != prev_mac {
        return Some("prev_mac does not match the previous event's mac");
    }
    let canonical = Canonical {
        id: &row.id,
        chain_id: &row.chain_id,
        seq: row.seq,
        occurred_at: format_ts(&row.occurred_at),
        actor_user_id: row.actor_user_id.as_deref(),
        actor_username: row.actor_username.as_deref(),
        actor_role: row.actor_role.as_deref(),
        action: &row.action,
        object_type: row.object_type.as_deref(),
        object_id: row.object_id.as_deref(),
        district_code: row.district_code.as_deref(),
        request_id: row.request_id.as_deref(),
        client_addr: row.client_addr.as_deref(),
        outcome: &row.outcome,
        details: &row.details,
    };
    (canonical.mac(key, prev_mac) != row.mac).then_some("mac mismatch: the event was modified")
}

/// Where a chain breaks: (seq, reason).
type Break = (i64, &'static str);

/// Verifies one chain; returns the events checked and the first break, if any.
fn verify_one(
    conn: &mut DbConnection,
    key: &AuditKey,
    chain: &str,
    head: Option<(i64, String)>,
) -> QueryResult<(i64, Option<Break>)> {
    const BATCH: i64 = 2_000;
    let mut count = 0_i64;
    let mut prev_mac = GENESIS_MAC.to_string();
    loop {
        let rows = batch_after(conn, chain, count, BATCH)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if let Some(reason) = check_row(key, row, count + 1, &prev_mac) {
                return Ok((count, Some((count + 1, reason))));
            }
            count += 1;
            prev_mac.clone_from(&row.mac);
        }
    }
    let broken = match head {
        None => Some((count + 1, "the chain head is missing")),
        Some((seq, _)) if seq > count => Some((count + 1, "events at the end of the chain are missing")),
        Some((seq, mac)) if seq != count || mac != prev_mac => {
            Some((count + 1, "the chain head does not match the last event"))
        }
        Some(_) => None,
    };
    Ok((count, broken))
}

/// Verifies every chain (heads, and chains that only have events).
pub fn verify_chain(conn: &mut DbConnection, key: &AuditKey) -> QueryResult<VerifyReport> {
    let heads: Vec<(String, i64, String)> = audit_chains::table
        .select((audit_chains::chain_id, audit_chains::last_seq, audit_chains::last_mac))
        .order(audit_chains::chain_id.asc())
        .load(conn)?;
    let with_events: Vec<String> = audit_events::table.select(audit_events::chain_id).distinct().load(conn)?;
    let mut chains: BTreeSet<String> = heads.iter().map(|(c, _, _)| c.clone()).collect();
    chains.extend(with_events);
    let mut report = VerifyReport {
        ok: true,
        count: 0,
        chains: chains.len() as i64,
        broken_chain: None,
        first_broken_seq: None,
        reason: None,
    };
    for chain in chains {
        let head = heads.iter().find(|(c, _, _)| *c == chain).map(|(_, s, m)| (*s, m.clone()));
        let (count, broken) = verify_one(conn, key, &chain, head)?;
        report.count += count;
        if let Some((seq, reason)) = broken {
            report.ok = false;
            report.broken_chain = Some(chain);
            report.first_broken_seq = Some(seq);
            report.reason = Some(reason.into());
            return Ok(report);
        }
    }
    Ok(report)
}
