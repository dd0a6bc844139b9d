//! Referrals: a household referred to schemes, and each referral's lifecycle.
//!
//! ```text
//! referred ──(scheme admin)──▶ acknowledged ──(scheme admin)──▶ enrolled | rejected (reason)
//!    │  └──(deadline passes)──▶ expired
//!    └──────(clerk, reason)──▶ withdrawn ◀──(clerk, reason)── acknowledged
//! ```
//! Every transition is an immutable ledger row (`referral_events`: who, when, from, to, why)
//! and an audit event. One referral per household and scheme may be open (`referred` or
//! `acknowledged`) at a time; the database enforces it too. A referral to a scheme the
//! household is not eligible for needs an override reason, which is recorded and audited.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::auth::Role;
use crate::db::DbConnection;
use crate::db::schema::{referral_events, referrals};
use crate::error::{ApiError, FieldError};
use crate::per_backend;
use crate::registry::repo::{self, Scope};
use crate::rules::{RuleSet, Status};
use crate::screening::store::stored_facts;

/// A referral as stored and shown.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = referrals)]
pub struct Referral {
    /// Referral id.
    pub id: String,
    /// Human-readable number printed on the slip.
    pub referral_number: String,
    /// Household.
    pub household_id: String,
    /// District of the household.
    #[serde(rename = "district")]
    pub district_code: String,
    /// Scheme id.
    #[serde(rename = "scheme")]
    pub scheme_id: String,
    /// `referred`, `acknowledged`, `enrolled`, `rejected`, `withdrawn` or `expired`.
    pub status: String,
    /// The household's status for the scheme when referred.
    pub eligibility: String,
    /// Why a household that was not eligible was referred anyway.
    pub override_reason: Option<String>,
    /// Rule-set version of the decision.
    pub rules_version: String,
    /// The clerk who referred.
    pub referred_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub referred_at: NaiveDateTime,
    /// The scheme office acknowledges by this date, or the referral expires.
    pub acknowledge_by: NaiveDate,
    /// Last change.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub updated_at: NaiveDateTime,
}

/// One transition in a referral's ledger.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = referral_events)]
pub struct ReferralEvent {
    /// Event id.
    pub id: String,
    /// Referral.
    pub referral_id: String,
    /// Status before (`null` when created).
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Why (override, withdrawal, rejection).
    pub reason: Option<String>,
    /// Who (`system` for an expiry).
    pub actor: String,
    /// When.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub occurred_at: NaiveDateTime,
    /// The referral's household: the ledger lives beside it (on Citus, on the same node).
    #[serde(skip)]
    pub household_id: String,
}

/// Who acts, and what they may see.
pub struct Actor<'a> {
    /// Audit chain key.
    pub key: &'a AuditKey,
    /// Audit context.
    pub ctx: &'a AuditContext,
    /// Role.
    pub role: Role,
    /// Districts (clerks).
    pub districts: &'a [String],
    /// Schemes (scheme administrators).
    pub schemes: &'a [String],
}

impl Actor<'_> {
    fn name(&self) -> String {
        self.ctx.username.clone().unwrap_or_default()
    }
}

fn reason_of(reason: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
    match reason.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) if r.chars().count() > 500 => Err(ApiError::invalid_field(field, "length", "at most 500 characters")),
        // PostgreSQL text cannot hold U+0000: refused the same way on either database.
        Some(r) if r.contains('\0') => {
            Err(ApiError::invalid_field(field, "invalid_character", "must not contain the NUL character (U+0000)"))
        }
        Some(r) => Ok(Some(r.to_string())),
    }
}

fn ledger(
    referral: &Referral,
    from: Option<&str>,
    reason: Option<String>,
    actor: &str,
    at: NaiveDateTime,
) -> ReferralEvent {
    ReferralEvent {
        id: uuid::Uuid::now_v7().to_string(),
        referral_id: referral.id.clone(),
        from_status: from.map(str::to_string),
        to_status: referral.status.clone(),
        reason,
        actor: actor.to_string(),
        occurred_at: at,
        household_id: referral.household_id.clone(),
    }
}

/// Refers a household to `schemes` (default: every scheme it is eligible for today).
pub fn refer(
    conn: &mut DbConnection,
    actor: &Actor,
    rules: &RuleSet,
    household_id: &str,
    schemes: Option<&[String]>,
    override_reason: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<Referral>, ApiError> {
    let scope = Scope::Districts(actor.districts.to_vec());
    let row = repo::find_household(conn, &scope, household_id)?.ok_or(ApiError::NotFound)?;
    let members = repo::members_of(conn, household_id, false)?;
    let (mut facts, _) = stored_facts(conn, rules, &row, &members)?;
    let bound = rules.bind(today);
    let mut statuses = Vec::new();
    bound.statuses(&mut facts, &mut statuses);
    let override_reason = reason_of(override_reason, "override_reason")?;
    let targets: Vec<(usize, Status)> = match schemes {
        None => statuses
            .iter()
            .enumerate()
            .filter(|(i, s)| bound.is_active(*i) && **s == Status::Eligible)
            .map(|(i, s)| (i, *s))
            .collect(),
        Some(list) => {
            let mut errors = Vec::new();
            let mut picked = Vec::new();
            for (k, id) in list.iter().enumerate() {
                let field = format!("schemes[{k}]");
                match rules.schemes.iter().position(|s| s.id == *id) {
                    None => errors.push(FieldError::new(field, "unknown_scheme", "no such scheme")),
                    Some(i) if !bound.is_active(i) => {
                        errors.push(FieldError::new(field, "inactive_scheme", "the scheme is not running today"))
                    }
                    Some(i) if statuses[i] != Status::Eligible && override_reason.is_none() => {
                        errors.push(FieldError::new(
                            field,
                            "not_eligible",
                            format!(
                                "the household is {} for this scheme: give an override_reason to refer it anyway",
                                statuses[i].as_str().replace('_', " ")
                            ),
                        ))
                    }
                    Some(i) if picked.iter().any(|(j, _)| *j == i) => {
                        errors.push(FieldError::new(field, "duplicate", "the scheme is listed twice"))
                    }
                    Some(i) => picked.push((i, statuses[i])),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            picked
        }
    };
    if targets.is_empty() {
        return Err(ApiError::invalid_field(
            "schemes",
            "nothing_to_refer",
            "the household is eligible for no scheme today; list schemes with an override_reason to refer it anyway",
        ));
    }
    let now = now_micros();
    let mut created = Vec::new();
    for (i, status) in targets {
        let scheme = &rules.schemes[i];
        let open: Option<Referral> = referrals::table
            .filter(referrals::household_id.eq(household_id))
            .filter(referrals::scheme_id.eq(&scheme.id))
            .filter(referrals::status.eq_any(["referred", "acknowledged"]))
            .select(Referral::as_select())
            .first(conn)
            .optional()?;
        if let Some(open) = open {
            let mut extra = serde_json::Map::new();
            extra.insert("referral_id".into(), json!(open.id));
            extra.insert("referral_number".into(), json!(open.referral_number));
            extra.insert("scheme".into(), json!(open.scheme_id));
            return Err(ApiError::Conflict {
                code: "open_referral",
                detail: format!(
                    "the household already has an open referral to {} ({})",
                    open.scheme_id, open.referral_number
                ),
                extra: Some(extra),
            });
        }
        let id = uuid::Uuid::now_v7();
        let overridden = status != Status::Eligible;
        let referral = Referral {
            id: id.to_string(),
            // The random half of the id: 62 random bits, so numbers do not collide at scale.
            referral_number: format!("R-{}", id.simple().to_string()[16..].to_uppercase()),
            household_id: row.id.clone(),
            district_code: row.district_code.clone(),
            scheme_id: scheme.id.clone(),
            status: "referred".into(),
            eligibility: status.as_str().into(),
            override_reason: if overridden { override_reason.clone() } else { None },
            rules_version: rules.version.clone(),
            referred_by: actor.name(),
            referred_at: now,
            acknowledge_by: today + chrono::Days::new(u64::from(scheme.acknowledge_within_days)),
            updated_at: now,
        };
        per_backend!(conn, |c| diesel::insert_into(referrals::table).values(&referral).execute(c))?;
        let event = ledger(&referral, None, referral.override_reason.clone(), &actor.name(), now);
        per_backend!(conn, |c| diesel::insert_into(referral_events::table).values(&event).execute(c))?;
        let audit =
            Event::new("referral_create").object("referral", &referral.id).district(&row.district_code).details(
                json!({"scheme": referral.scheme_id, "eligibility": referral.eligibility, "override": overridden}),
            );
        audit::record(conn, actor.key, actor.ctx, &audit)?;
        created.push(referral);
    }
    Ok(created)
}

/// The transitions allowed from `status`, with the role that may make each.
pub fn allowed(status: &str) -> &'static [(&'static str, Role)] {
    match status {
        "referred" => &[("acknowledged", Role::SchemeAdmin), ("withdrawn", Role::Clerk)],
        "acknowledged" => {
            &[("enrolled", Role::SchemeAdmin), ("rejected", Role::SchemeAdmin), ("withdrawn", Role::Clerk)]
        }
        _ => &[],
    }
}

/// A referral the actor may see: a clerk's districts, a scheme administrator's schemes
/// (another scheme's referral is refused, not hidden: its existence is no secret to them).
fn visible(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Referral, ApiError> {
    let referral: Referral =
        referrals::table.find(id).select(Referral::as_select()).first(conn).optional()?.ok_or(ApiError::NotFound)?;
    match actor.role {
        Role::Clerk if actor.districts.contains(&referral.district_code) => Ok(referral),
        Role::SchemeAdmin if actor.schemes.contains(&referral.scheme_id) => Ok(referral),
        Role::SchemeAdmin => Err(ApiError::Forbidden),
        _ => Err(ApiError::NotFound),
    }
}

/// Marks a referral expired if its acknowledgement deadline has passed.
fn expire_if_due(
    conn: &mut DbConnection,
    actor: &Actor,
    referral: &mut Referral,
    today: NaiveDate,
) -> Result<(), ApiError> {
    if referral.status == "referred" && today > referral.acknowledge_by {
        let now = now_micros();
        referral.status = "expired".into();
        referral.updated_at = now;
        diesel::update(referrals::table.find(&referral.id))
            .set((referrals::status.eq("expired"), referrals::updated_at.eq(now)))
            .execute(conn)?;
        let event = ledger(referral, Some("referred"), Some("not acknowledged by the deadline".into()), "system", now);
        per_backend!(conn, |c| diesel::insert_into(referral_events::table).values(&event).execute(c))?;
        let audit = Event::new("referral_expire").object("referral", &referral.id).district(&referral.district_code);
        audit::record(conn, actor.key, actor.ctx, &audit)?;
    }
    Ok(())
}

/// Expires the referrals whose acknowledgement deadline has passed, at most `limit` of them
/// (earliest deadline first), each with its ledger entry and audit event, exactly as a read of
/// one of them would. Run before the log is read, so that lists never offer an expired
/// referral as open.
pub fn expire_due(conn: &mut DbConnection, actor: &Actor, today: NaiveDate, limit: i64) -> Result<usize, ApiError> {
    let due: Vec<Referral> = referrals::table
        .filter(referrals::status.eq("referred"))
        .filter(referrals::acknowledge_by.lt(today))
        .order(referrals::acknowledge_by.asc())
        .limit(limit)
        .select(Referral::as_select())
        .load(conn)?;
    let count = due.len();
    for mut referral in due {
        expire_if_due(conn, actor, &mut referral, today)?;
    }
    Ok(count)
}

/// Moves a referral to `to`, if the lifecycle and the actor's role allow it.
pub fn transition(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    to: &str,
    reason: Option<&str>,
    today: NaiveDate,
) -> Result<Referral, ApiError> {
    let mut referral = visible(conn, actor, id)?;
    expire_if_due(conn, actor, &mut referral, today)?;
    let reason = reason_of(reason, "reason")?;
    let options = allowed(&referral.status);
    let Some((_, role)) = options.iter().find(|(next, _)| *next == to) else {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let mut extra = serde_json::Map::new();
        extra.insert("allowed_transitions".into(), json!(names));
        return Err(ApiError::Conflict {
            code: "illegal_transition",
            detail: format!(
                "a {} referral cannot become {to}; allowed: {}",
                referral.status,
                if names.is_empty() { "none (it is closed)".to_string() } else { names.join(", ") }
            ),
            extra: Some(extra),
        });
    };
    if *role != actor.role {
        return Err(ApiError::Forbidden);
    }
    if matches!(to, "withdrawn" | "rejected") && reason.is_none() {
        return Err(ApiError::invalid_field("reason", "required", "give the reason for this decision"));
    }
    let from = referral.status.clone();
    let now = now_micros();
    referral.status = to.to_string();
    referral.updated_at = now;
    diesel::update(referrals::table.find(&referral.id))
        .set((referrals::status.eq(to), referrals::updated_at.eq(now)))
        .execute(conn)?;
    if to == "acknowledged" {
        // Kept on the referral too (a referral is acknowledged once), for the funnel report.
        diesel::update(referrals::table.find(&referral.id)).set(referrals::acknowledged_at.eq(now)).execute(conn)?;
    }
    let event = ledger(&referral, Some(&from), reason, &actor.name(), now);
    per_backend!(conn, |c| diesel::insert_into(referral_events::table).values(&event).execute(c))?;
    let audit = Event::new("referral_transition")
        .object("referral", &referral.id)
        .district(&referral.district_code)
        .details(json!({"scheme": referral.scheme_id, "from": from, "to": to}));
    audit::record(conn, actor.key, actor.ctx, &audit)?;
    Ok(referral)
}

/// A referral with its ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralWithLedger {
    /// The referral.
    #[serde(flatten)]
    pub referral: Referral,
    /// Every transition, oldest first.
    pub ledger: Vec<ReferralEvent>,
    /// The steps the caller's role may take from the current status (empty when none).
    pub next_steps: Vec<&'static str>,
}

/// One referral with its ledger (expired first if its deadline passed).
pub fn get(conn: &mut DbConnection, actor: &Actor, id: &str, today: NaiveDate) -> Result<ReferralWithLedger, ApiError> {
    let mut referral = visible(conn, actor, id)?;
    expire_if_due(conn, actor, &mut referral, today)?;
    let ledger = referral_events::table
        .filter(referral_events::household_id.eq(&referral.household_id))
        .filter(referral_events::referral_id.eq(id))
        .order(referral_events::id.asc())
        .select(ReferralEvent::as_select())
        .load(conn)?;
    let next_steps =
        allowed(&referral.status).iter().filter(|(_, role)| *role == actor.role).map(|(step, _)| *step).collect();
    Ok(ReferralWithLedger { referral, ledger, next_steps })
}

/// A household's referrals, newest first (a clerk in the household's district).
pub fn of_household(
    conn: &mut DbConnection,
    actor: &Actor,
    household_id: &str,
    today: NaiveDate,
) -> Result<Vec<Referral>, ApiError> {
    let scope = Scope::Districts(actor.districts.to_vec());
    let row = repo::find_household(conn, &scope, household_id)?.ok_or(ApiError::NotFound)?;
    let mut list: Vec<Referral> = referrals::table
        .filter(referrals::household_id.eq(household_id))
        .order(referrals::id.desc())
        .limit(200)
        .select(Referral::as_select())
        .load(conn)?;
    for r in &mut list {
        expire_if_due(conn, actor, r, today)?;
    }
    let event = Event::new("referrals_read").object("household", household_id).district(&row.district_code);
    audit::record(conn, actor.key, actor.ctx, &event)?;
    Ok(list)
}

/// Escapes text for HTML.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The printable referral slip: English with Urdu (right to left) beside it. It carries the
/// referral and household numbers, the scheme, the office to visit, the documents to bring and
/// the deadline — no names or ID numbers, so a lost slip reveals nothing about the family.
pub fn slip(
    conn: &mut DbConnection,
    actor: &Actor,
    rules: &RuleSet,
    id: &str,
    today: NaiveDate,
) -> Result<String, ApiError> {
    use crate::db::schema::households;
    let mut referral = visible(conn, actor, id)?;
    expire_if_due(conn, actor, &mut referral, today)?;
    let household_number: String =
        households::table.find(&referral.household_id).select(households::household_number).first(conn)?;
    let scheme = rules.scheme(&referral.scheme_id);
    let pair = |en: &str, ur: &str| {
        format!("<tr><td>{}</td><td class=\"ur\" dir=\"rtl\" lang=\"ur\">{}</td></tr>", html(en), html(ur))
    };
    let mut rows = String::new();
    rows.push_str(&pair(
        &format!("Referral number: {}", referral.referral_number),
        &format!("ریفرل نمبر: {}", referral.referral_number),
    ));
    rows.push_str(&pair(&format!("Household number: {household_number}"), &format!("گھرانہ نمبر: {household_number}")));
    match scheme {
        Some(s) => {
            rows.push_str(&pair(&format!("Scheme: {}", s.name.en), &format!("اسکیم: {}", s.name.ur)));
            rows.push_str(&pair(&format!("Department: {}", s.department), &format!("محکمہ: {}", s.department)));
            if let Some(office) = &s.office {
                rows.push_str(&pair(&format!("Office to visit: {}", office.en), &format!("دفتر: {}", office.ur)));
            }
            rows.push_str(&pair("Documents to bring:", "ساتھ لانے والی دستاویزات:"));
            for d in &s.documents {
                rows.push_str(&pair(&format!("• {}", d.en), &format!("• {}", d.ur)));
            }
            for c in &s.subject_to {
                rows.push_str(&pair(&format!("Subject to: {}", c.en), &format!("مشروط: {}", c.ur)));
            }
        }
        None => {
            rows.push_str(&pair(&format!("Scheme: {}", referral.scheme_id), &format!("اسکیم: {}", referral.scheme_id)))
        }
    }
    let deadline = referral.acknowledge_by.format("%Y-%m-%d").to_string();
    rows.push_str(&pair(&format!("Visit by: {deadline}"), &format!("آخری تاریخ: {deadline}")));
    rows.push_str(&pair(&format!("Status: {}", referral.status), &format!("کیفیت: {}", referral.status)));
    let event = Event::new("referral_slip").object("referral", &referral.id).district(&referral.district_code);
    audit::record(conn, actor.key, actor.ctx, &event)?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}\
         td{{padding:.3em .6em;vertical-align:top;width:50%}}.ur{{text-align:right;font-size:1.1em}}\
         @media print{{body{{margin:0}}}}</style></head>\n<body><h1>Referral slip · ریفرل پرچی</h1>\n\
         <table>{rows}</table>\n</body></html>\n",
        html(&referral.referral_number)
    ))
}

/// Filters of the referral log; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// District code.
    pub district: Option<String>,
    /// Scheme id.
    pub scheme: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Referred on or after this date.
    pub from: Option<NaiveDate>,
    /// Referred on or before this date.
    pub to: Option<NaiveDate>,
    /// The clerk who referred (user name).
    pub clerk: Option<String>,
    /// Only these districts (an auditor assigned to districts).
    pub districts: Option<Vec<String>>,
    /// Only these schemes (a scheme administrator's own).
    pub schemes: Option<Vec<String>>,
    /// Only referrals still waiting for acknowledgement on or after their deadline (the
    /// day given: today in Pakistan).
    pub overdue_on: Option<NaiveDate>,
}

/// One line of the referral log: household numbers, never names or ID numbers.
#[derive(Debug, Clone, Queryable, Serialize, ToSchema)]
pub struct LogEntry {
    /// Referral id (the cursor).
    pub id: String,
    /// Referral number.
    pub referral_number: String,
    /// Household number.
    pub household_number: String,
    /// District.
    pub district: String,
    /// Scheme id.
    pub scheme: String,
    /// Status.
    pub status: String,
    /// Status for the scheme when referred.
    pub eligibility: String,
    /// Whether a clerk overrode the decision.
    pub override_reason: Option<String>,
    /// The clerk who referred.
    pub referred_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub referred_at: NaiveDateTime,
    /// Acknowledgement deadline.
    pub acknowledge_by: NaiveDate,
    /// Last change.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub updated_at: NaiveDateTime,
}

/// A page of the referral log, oldest first, after `cursor` (a referral id).
pub fn log_page(
    conn: &mut DbConnection,
    filter: &LogFilter,
    cursor: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<LogEntry>> {
    use crate::db::schema::households;
    let mut query = referrals::table
        .inner_join(households::table)
        .select((
            referrals::id,
            referrals::referral_number,
            households::household_number,
            referrals::district_code,
            referrals::scheme_id,
            referrals::status,
            referrals::eligibility,
            referrals::override_reason,
            referrals::referred_by,
            referrals::referred_at,
            referrals::acknowledge_by,
            referrals::updated_at,
        ))
        .into_boxed();
    if let Some(d) = &filter.district {
        query = query.filter(referrals::district_code.eq(d.clone()));
    }
    if let Some(list) = &filter.districts {
        query = query.filter(referrals::district_code.eq_any(list.clone()));
    }
    if let Some(s) = &filter.scheme {
        query = query.filter(referrals::scheme_id.eq(s.clone()));
    }
    if let Some(s) = &filter.status {
        query = query.filter(referrals::status.eq(s.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(referrals::referred_at.ge(from.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(to) = filter.to.and_then(|d| d.succ_opt()) {
        query = query.filter(referrals::referred_at.lt(to.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(c) = &filter.clerk {
        query = query.filter(referrals::referred_by.eq(c.clone()));
    }
    if let Some(list) = &filter.schemes {
        query = query.filter(referrals::scheme_id.eq_any(list.clone()));
    }
    if let Some(day) = filter.overdue_on {
        query = query.filter(referrals::status.eq("referred")).filter(referrals::acknowledge_by.le(day));
    }
    if let Some(c) = cursor {
        query = query.filter(referrals::id.gt(c.to_string()));
    }
    query.order(referrals::id.asc()).limit(limit).load(conn)
}
