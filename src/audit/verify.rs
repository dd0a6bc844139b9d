//! Walking the audit chain: recomputes every MAC in sequence order and reports the first
//! event that does not fit (modified, deleted, inserted or reordered), or the count.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::repo::{AuditEventRow, batch_after};
use super::{AuditKey, Canonical, format_ts};
use crate::db::DbConnection;
use crate::db::schema::audit_chain;

/// The genesis `prev_mac` of the first event.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The verifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VerifyReport {
    /// True when every event and the chain head check out.
    pub ok: bool,
    /// Events checked.
    pub count: i64,
    /// The sequence number of the first broken link, if any.
    pub first_broken_seq: Option<i64>,
    /// Why that link is broken.
    pub reason: Option<String>,
}

impl VerifyReport {
    fn broken(count: i64, seq: i64, reason: impl Into<String>) -> Self {
        Self { ok: false, count, first_broken_seq: Some(seq), reason: Some(reason.into()) }
    }
}

fn check_row(key: &AuditKey, row: &AuditEventRow, expected_seq: i64, prev_mac: &str) -> Option<&'static str> {
    if row.seq != expected_seq {
        return Some("sequence gap: an event is missing before this one");
    }
    if row.prev_mac != prev_mac {
        return Some("prev_mac does not match the previous event's mac");
    }
    let canonical = Canonical {
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

/// Verifies the whole chain in batches (constant memory), then the chain head.
pub fn verify_chain(conn: &mut DbConnection, key: &AuditKey) -> QueryResult<VerifyReport> {
    const BATCH: i64 = 2_000;
    let mut count = 0_i64;
    let mut prev_mac = GENESIS_MAC.to_string();
    loop {
        let rows = batch_after(conn, count, BATCH)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if let Some(reason) = check_row(key, row, count + 1, &prev_mac) {
                return Ok(VerifyReport::broken(count, count + 1, reason));
            }
            count += 1;
            prev_mac.clone_from(&row.mac);
        }
    }
    let (head_seq, head_mac): (i64, String) =
        audit_chain::table.find(1).select((audit_chain::last_seq, audit_chain::last_mac)).first(conn)?;
    if head_seq != count || head_mac != prev_mac {
        let reason = if head_seq > count {
            "events at the end of the chain are missing"
        } else {
            "the chain head does not match the last event"
        };
        return Ok(VerifyReport::broken(count, count + 1, reason));
    }
    Ok(VerifyReport { ok: true, count, first_broken_seq: None, reason: None })
}
