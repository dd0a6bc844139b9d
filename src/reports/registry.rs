//! One pass over the registry for the coverage and gaps reports.
//!
//! Households are read in keyset chunks of [`CHUNK`] (by id), each with its current members,
//! its stored decisions (`household_decisions`), its referrals and, for the gaps report, when
//! each eligible scheme became eligible. Everything is added into fixed-size counters (by
//! district, scheme or guarantee, sex and age band), so memory does not grow with the
//! registry; only a chunk's rows are held at a time.

use std::collections::{BTreeMap, HashMap};

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::dsl::max;
use diesel::prelude::*;

use super::profile;
use crate::db::DbConnection;
use crate::db::schema::{decision_changes, household_decisions, households, members, referral_events, referrals};
use crate::registry::model::STATUS_CURRENT;
use crate::rules::{Guarantee, RuleSet};
use crate::screening::store::{ids, parse_missing};

/// FNV-1a: the reports look up short keys (scheme ids, field names) tens of millions of
/// times per run; SipHash's protection against chosen keys is not needed for our own codes.
#[derive(Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A map keyed by our own short codes.
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Buffers reused from one household to the next.
#[derive(Default)]
struct Scratch {
    status: Vec<[bool; 4]>,
    fields: Vec<usize>,
}

/// Households read per query.
pub const CHUNK: i64 = 20_000;

/// The measures of coverage, in column order.
pub const MEASURES: [&str; 4] = ["eligible", "undetermined", "referred", "enrolled"];
const ELIGIBLE: usize = 0;
const UNDETERMINED: usize = 1;
const REFERRED: usize = 2;
const ENROLLED: usize = 3;

/// Sexes as recorded, in row order.
pub const SEXES: [&str; 3] = ["female", "male", "transgender"];
/// Age bands, in row order.
pub const AGE_BANDS: [&str; 4] = ["0-4", "5-17", "18-59", "60+"];
/// The SDG 1.3.1 groups the registry can identify, with the guarantee whose schemes cover them
/// (`None`: any scheme).
pub const SDG_GROUPS: [(&str, Option<Guarantee>); 5] = [
    ("children", Some(Guarantee::Children)),
    ("older_persons", Some(Guarantee::OldAge)),
    ("disability", Some(Guarantee::WorkingAge)),
    ("pregnant_or_lactating", Some(Guarantee::WorkingAge)),
    ("poor", None),
];

/// What the pass reads.
pub struct Request<'a> {
    pub rules: &'a RuleSet,
    /// Ages, registrations and referral statuses are taken at the end of this day (Pakistan).
    pub as_of: NaiveDate,
    /// Districts in scope (`None`: all).
    pub districts: Option<&'a [String]>,
    /// Scheme ids in scope, as indexes into `rules.schemes`.
    pub schemes: &'a [usize],
    /// Every district code the rows of district tables show, in order.
    pub district_rows: &'a [String],
    /// Also gather what only the gaps report needs.
    pub gaps: bool,
    /// Gaps: eligible households count as "not referred" after this many days.
    pub days: i64,
    /// PMT score at or under which a household counts as poor.
    pub poor_pmt: f64,
    /// The scheme (position in `schemes`) broken down by district, sex and age; the others
    /// are counted in total only.
    pub focus: Option<usize>,
}

/// Counters per target: one per guarantee (first four) and one per scheme in scope.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Households by district and measure.
    pub households: Vec<[u64; 4]>,
    /// People by district and measure.
    pub people: Vec<[u64; 4]>,
    /// People by sex × age band and measure.
    pub people_sex_age: Vec<[u64; 4]>,
}

/// What the pass found.
#[derive(Debug, Default)]
pub struct Tally {
    /// Registered households by district row.
    pub households: Vec<u64>,
    /// Registered people by district row.
    pub people: Vec<u64>,
    /// Registered people by sex × age band.
    pub people_sex_age: Vec<u64>,
    /// Guarantee targets (in `Guarantee::ALL` order), then one per scheme in scope (all but
    /// the focus scheme in district slot 0 only, with no sex and age).
    pub targets: Vec<Target>,
    /// SDG groups: registered people, then people by measure of the group's guarantee.
    pub sdg: Vec<(u64, [u64; 4])>,
    /// Households with no decisions stored yet (never screened).
    pub undecided: u64,
    /// Gaps, by district row: decided households eligible for nothing; of them, also
    /// undetermined on nothing and with no referral in progress or enrolment.
    pub nothing: Vec<[u64; 2]>,
    /// Gaps, by guarantee then district row: households with a member the guarantee is for,
    /// of them not covered (not eligible, referred or enrolled, nor undetermined), and only
    /// undetermined.
    pub uncovered: Vec<Vec<[u64; 3]>>,
    /// Gaps, by scheme in scope: households eligible; of them eligible for `days` and not referred.
    pub not_referred_scheme: Vec<[u64; 2]>,
    /// Gaps, by district row: households eligible for something; of them with a scheme not referred.
    pub not_referred_district: Vec<[u64; 2]>,
    /// Gaps: missing field → (undetermined decisions it is part of, decisions it alone would
    /// settle, households).
    pub missing_fields: BTreeMap<String, [u64; 3]>,
    /// Gaps, by district row: households undetermined on something (missing fields known),
    /// and of them those waiting for at most three fields in all.
    pub few_missing: Vec<[u64; 2]>,
    /// Households whose missing fields are not worked out yet.
    pub missing_unknown: u64,
    /// Field names met so far, their index and counters (gathered into `missing_fields`).
    field_index: FastMap<String, usize>,
    field_counts: Vec<[u64; 3]>,
}

impl Tally {
    /// The index of a missing field's counters.
    fn field(&mut self, name: &str) -> usize {
        if let Some(&i) = self.field_index.get(name) {
            return i;
        }
        self.field_counts.push([0; 3]);
        self.field_index.insert(name.to_string(), self.field_counts.len() - 1);
        self.field_counts.len() - 1
    }
}

/// One household of a chunk.
struct Household {
    id: String,
    district: usize,
    poor: bool,
    created_at: NaiveDateTime,
    decisions: Option<(String, String, Option<String>)>,
    /// Per sex × age band.
    sex_age: [u32; 12],
    /// Per SDG group.
    sdg: [u32; 5],
    /// Referral statuses at the cut-off: (scheme id, status).
    referrals: Vec<(String, String)>,
    /// Gaps: (scheme id, last time it became eligible).
    eligible_since: Vec<(String, NaiveDateTime)>,
    /// Whether its people were counted from the stored profile.
    counted: bool,
}

impl Household {
    /// Counts one member. `limits`: the birth dates (`YYYYMMDD`) after which a member is under
    /// 5, under 18, under 60.
    fn person(&mut self, sex: usize, born: u32, disabled: bool, expecting: bool, limits: &[u32; 3]) {
        let b = limits.iter().position(|l| born > *l).unwrap_or(3);
        self.sex_age[sex.min(2) * 4 + b] += 1;
        self.sdg[0] += u32::from(b <= 1);
        self.sdg[1] += u32::from(b == 3);
        self.sdg[2] += u32::from(disabled);
        self.sdg[3] += u32::from(expecting);
    }
}

/// The end of `as_of` in Pakistan (UTC+5), as the UTC timestamps the database stores.
pub fn cutoff(as_of: NaiveDate) -> NaiveDateTime {
    let next = as_of.succ_opt().unwrap_or(as_of).and_hms_opt(0, 0, 0).unwrap_or_default();
    next - chrono::TimeDelta::hours(5)
}

/// A referral's status on the cut-off date: one still `referred` past its deadline counts as
/// expired (the job that marks it may not have run yet).
pub fn effective_status(status: &str, acknowledge_by: NaiveDate, as_of: NaiveDate) -> &str {
    if status == "referred" && as_of > acknowledge_by { "expired" } else { status }
}

type DecisionsRow = (String, String, String, Option<String>, Option<String>);

/// The position of household `id` in the chunk (in id order), for rows read in household
/// order: searched forward from `*from`, else (an order the database sorts differently) by
/// bisection.
fn seek(chunk: &[Household], from: &mut usize, id: &str) -> Option<usize> {
    while *from < chunk.len() && chunk[*from].id.as_str() < id {
        *from += 1;
    }
    if *from < chunk.len() && chunk[*from].id == id {
        return Some(*from);
    }
    chunk.binary_search_by(|h| h.id.as_str().cmp(id)).ok()
}

/// Runs the pass.
pub fn tally(conn: &mut DbConnection, req: &Request<'_>) -> QueryResult<Tally> {
    let rules = req.rules;
    let nd = req.district_rows.len();
    let district_index: HashMap<&str, usize> =
        req.district_rows.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let scheme_pos: FastMap<&str, usize> =
        req.schemes.iter().enumerate().map(|(k, &i)| (rules.schemes[i].id.as_str(), k)).collect();
    let guarantee_of: Vec<usize> = req
        .schemes
        .iter()
        .map(|&i| Guarantee::ALL.iter().position(|(_, g)| *g == rules.schemes[i].guarantee).unwrap_or(0))
        .collect();
    let ns = req.schemes.len();
    let mut t = Tally {
        households: vec![0; nd],
        people: vec![0; nd],
        people_sex_age: vec![0; 12],
        targets: vec![
            Target {
                households: vec![[0; 4]; nd],
                people: vec![[0; 4]; nd],
                people_sex_age: vec![[0; 4]; 12],
            };
            4 + ns
        ],
        sdg: vec![(0, [0; 4]); SDG_GROUPS.len()],
        nothing: vec![[0; 2]; nd],
        uncovered: vec![vec![[0; 3]; nd]; 4],
        not_referred_scheme: vec![[0; 2]; ns],
        not_referred_district: vec![[0; 2]; nd],
        few_missing: vec![[0; 2]; nd],
        ..Tally::default()
    };
    let cut = cutoff(req.as_of);
    // Born after [0]: 0–4; after [1]: 5–17; after [2]: 18–59; else 60+.
    let dates = [
        req.as_of.checked_sub_months(Months::new(5 * 12)).unwrap_or(req.as_of),
        req.as_of.checked_sub_months(Months::new(18 * 12)).unwrap_or(req.as_of),
        req.as_of.checked_sub_months(Months::new(60 * 12)).unwrap_or(req.as_of),
    ];
    let limits = dates.map(profile::day_number);
    let stale_before = cut - chrono::TimeDelta::days(req.days);
    let past = req.as_of < crate::registry::warnings::today_in_pakistan();

    // One thread reads chunk after chunk while this one adds them up: on two cores the
    // database's work and ours overlap. At most one chunk waits in the channel.
    let (districts, gaps, poor_pmt) = (req.districts, req.gaps, req.poor_pmt);
    let district_index = &district_index;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Household>>(1);
    let read = move |conn: &mut DbConnection| -> QueryResult<()> {
        let mut after: Option<String> = None;
        loop {
            let mut q = households::table
                .filter(households::created_at.lt(cut))
                .select((households::id, households::district_code, households::pmt_score, households::created_at))
                .order(households::id)
                .limit(CHUNK)
                .into_boxed();
            if let Some(a) = &after {
                q = q.filter(households::id.gt(a.clone()));
            }
            if let Some(ds) = districts {
                q = q.filter(households::district_code.eq_any(ds.to_vec()));
            }
            let rows: Vec<(String, String, Option<f64>, NaiveDateTime)> = q.load(conn)?;
            let Some(last) = rows.last().map(|r| r.0.clone()) else { break };
            let full = rows.len() as i64 == CHUNK;
            let mut chunk: Vec<Household> = rows
                .into_iter()
                .filter_map(|(id, district, pmt, created_at)| {
                    let district = *district_index.get(district.as_str())?;
                    Some(Household {
                        id,
                        district,
                        poor: pmt.is_some_and(|p| p <= poor_pmt),
                        created_at,
                        decisions: None,
                        sex_age: [0; 12],
                        sdg: [0; 5],
                        referrals: Vec::new(),
                        eligible_since: Vec::new(),
                        counted: false,
                    })
                })
                .collect();
            let lo = after.clone();
            // For some districts only, their households by id: an id range would also span
            // every other district's households registered in between.
            let only: Option<Vec<String>> = districts.map(|_| chunk.iter().map(|h| h.id.clone()).collect());

            // Their decisions, by the same id range (a separate query: joined, PostgreSQL would
            // walk the decisions from the first household for every chunk). The missing fields
            // are long text: read only for the gaps report.
            macro_rules! decisions_of_chunk {
                ($missing:expr) => {{
                    let mut dq = household_decisions::table
                        .select((
                            household_decisions::household_id,
                            household_decisions::eligible,
                            household_decisions::undetermined,
                            $missing,
                            household_decisions::profile,
                        ))
                        .into_boxed();
                    if let Some(ids) = &only {
                        dq = dq.filter(household_decisions::household_id.eq_any(ids.clone()));
                    } else {
                        dq = dq.filter(household_decisions::household_id.le(last.clone()));
                        if let Some(lo) = &lo {
                            dq = dq.filter(household_decisions::household_id.gt(lo.clone()));
                        }
                    }
                    dq.order(household_decisions::household_id).load::<DecisionsRow>(conn)?
                }};
            }
            let decided: Vec<DecisionsRow> = if gaps {
                decisions_of_chunk!(household_decisions::missing)
            } else {
                decisions_of_chunk!(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>("NULL"))
            };
            let mut at = 0;
            for (hid, eligible, undetermined, missing, stored) in decided {
                let Some(i) = seek(&chunk, &mut at, &hid) else { continue };
                let h = &mut chunk[i];
                h.decisions = Some((eligible, undetermined, missing));
                if let Some(text) = &stored {
                    for m in profile::decode(text) {
                        h.person(m.sex, m.born, m.disabled, m.expecting, &limits);
                    }
                    h.counted = true;
                }
            }

            // Members of the chunk's households that have no stored profile yet (never screened,
            // or decided before profiles were kept): the database compares the birth dates and
            // codes, so each row comes back as a few booleans.
            let uncounted: Vec<String> = chunk.iter().filter(|h| !h.counted).map(|h| h.id.clone()).collect();
            if !uncounted.is_empty() {
                let mut mq = members::table
                    .filter(members::status.eq(STATUS_CURRENT))
                    .select((
                        members::household_id,
                        members::sex.eq("female"),
                        members::sex.eq("male"),
                        members::date_of_birth.gt(dates[0]),
                        members::date_of_birth.gt(dates[1]),
                        members::date_of_birth.gt(dates[2]),
                        members::disability.is_not_null().and(members::disability.ne("none").assume_not_null()),
                        members::is_pregnant.eq(true).or(members::is_lactating.eq(true)).nullable(),
                    ))
                    .into_boxed();
                // A few households by id; most of a province-wide chunk as its id range.
                if districts.is_some() || uncounted.len() < chunk.len() / 2 {
                    mq = mq.filter(members::household_id.eq_any(uncounted));
                } else {
                    mq = mq.filter(members::household_id.le(last.clone()));
                    if let Some(lo) = &lo {
                        mq = mq.filter(members::household_id.gt(lo.clone()));
                    }
                }
                type MemberRow = (String, bool, bool, bool, bool, bool, bool, Option<bool>);
                let mut at = 0;
                for (hid, female, male, under5, under18, under60, disabled, expecting) in
                    mq.order(members::household_id).load::<MemberRow>(conn)?
                {
                    let Some(i) = seek(&chunk, &mut at, &hid) else { continue };
                    let h = &mut chunk[i];
                    if h.counted {
                        continue;
                    }
                    let s = if female {
                        0
                    } else if male {
                        1
                    } else {
                        2
                    };
                    let b = if under5 {
                        0
                    } else if under18 {
                        1
                    } else if under60 {
                        2
                    } else {
                        3
                    };
                    h.sex_age[s * 4 + b] += 1;
                    h.sdg[0] += u32::from(b <= 1);
                    h.sdg[1] += u32::from(b == 3);
                    h.sdg[2] += u32::from(disabled);
                    h.sdg[3] += u32::from(expecting == Some(true));
                }
            }

            // Referrals made by the cut-off, with their status then.
            let mut rq = referrals::table
                .filter(referrals::household_id.le(last.clone()))
                .filter(referrals::referred_at.lt(cut))
                .select((
                    referrals::id,
                    referrals::household_id,
                    referrals::scheme_id,
                    referrals::status,
                    referrals::acknowledge_by,
                ))
                .into_boxed();
            if let Some(ids) = &only {
                rq = rq.filter(referrals::household_id.eq_any(ids.clone()));
            } else if let Some(lo) = &lo {
                rq = rq.filter(referrals::household_id.gt(lo.clone()));
            }
            let found: Vec<(String, String, String, String, NaiveDate)> =
                rq.order(referrals::household_id).load(conn)?;
            let mut then: HashMap<String, String> = HashMap::new();
            if past && !found.is_empty() {
                // The status on the cut-off date: the last step taken before it.
                let mut eq = referral_events::table
                    .inner_join(referrals::table)
                    .filter(referrals::household_id.le(last.clone()))
                    .filter(referral_events::occurred_at.lt(cut))
                    .select((referral_events::referral_id, referral_events::to_status, referral_events::occurred_at))
                    .order((referral_events::occurred_at, referral_events::id))
                    .into_boxed();
                if let Some(ids) = &only {
                    eq = eq.filter(referrals::household_id.eq_any(ids.clone()));
                } else if let Some(lo) = &lo {
                    eq = eq.filter(referrals::household_id.gt(lo.clone()));
                }
                for (rid, status, _) in eq.load::<(String, String, NaiveDateTime)>(conn)? {
                    then.insert(rid, status);
                }
            }
            let mut at = 0;
            for (rid, hid, scheme, status, due) in found {
                let Some(i) = seek(&chunk, &mut at, &hid) else { continue };
                let status = if past { then.remove(&rid).unwrap_or(status) } else { status };
                let status = effective_status(&status, due, req.as_of).to_string();
                chunk[i].referrals.push((scheme, status));
            }

            if gaps {
                let mut cq = decision_changes::table
                    .filter(decision_changes::household_id.le(last.clone()))
                    .filter(decision_changes::to_status.eq("eligible"))
                    .filter(decision_changes::changed_at.lt(cut))
                    .group_by((decision_changes::household_id, decision_changes::scheme_id))
                    .select((
                        decision_changes::household_id,
                        decision_changes::scheme_id,
                        max(decision_changes::changed_at),
                    ))
                    .into_boxed();
                if let Some(ids) = &only {
                    cq = cq.filter(decision_changes::household_id.eq_any(ids.clone()));
                } else if let Some(lo) = &lo {
                    cq = cq.filter(decision_changes::household_id.gt(lo.clone()));
                }
                let mut at = 0;
                for (hid, scheme, when) in
                    cq.order(decision_changes::household_id).load::<(String, String, Option<NaiveDateTime>)>(conn)?
                {
                    if let (Some(i), Some(when)) = (seek(&chunk, &mut at, &hid), when) {
                        chunk[i].eligible_since.push((scheme, when));
                    }
                }
            }

            if tx.send(chunk).is_err() || !full {
                break;
            }
            after = Some(last);
        }
        Ok(())
    };
    let mut scratch = Scratch::default();
    std::thread::scope(|scope| -> QueryResult<()> {
        // The reader's end of the channel goes with it: when it stops, the loop below ends.
        let reader = scope.spawn(move || read(conn));
        for chunk in rx {
            for h in &chunk {
                add(&mut t, req, h, &scheme_pos, &guarantee_of, stale_before, &mut scratch);
            }
        }
        reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    for (name, i) in std::mem::take(&mut t.field_index) {
        t.missing_fields.insert(name, t.field_counts[i]);
    }
    Ok(t)
}

/// Adds one household to the counters.
fn add(
    t: &mut Tally,
    req: &Request<'_>,
    h: &Household,
    scheme_pos: &FastMap<&str, usize>,
    guarantee_of: &[usize],
    stale_before: NaiveDateTime,
    scratch: &mut Scratch,
) {
    let d = h.district;
    let people: u64 = h.sex_age.iter().map(|&n| u64::from(n)).sum();
    t.households[d] += 1;
    t.people[d] += people;
    for (k, n) in h.sex_age.iter().enumerate() {
        t.people_sex_age[k] += u64::from(*n);
    }

    // Each scheme in scope: eligible, undetermined, referred (in progress or enrolled), enrolled.
    let ns = req.schemes.len();
    let status = &mut scratch.status;
    status.clear();
    status.resize(ns, [false; 4]);
    if let Some((eligible, undetermined, _)) = &h.decisions {
        for s in ids(eligible).filter_map(|s| scheme_pos.get(s)) {
            status[*s][ELIGIBLE] = true;
        }
        for s in ids(undetermined).filter_map(|s| scheme_pos.get(s)) {
            status[*s][UNDETERMINED] = true;
        }
    }
    for (scheme, st) in &h.referrals {
        if let Some(&s) = scheme_pos.get(scheme.as_str()) {
            match st.as_str() {
                "referred" | "acknowledged" => status[s][REFERRED] = true,
                "enrolled" => {
                    status[s][REFERRED] = true;
                    status[s][ENROLLED] = true;
                }
                _ => {}
            }
        }
    }
    let mut by_guarantee = [[false; 4]; 4];
    for (s, st) in status.iter().enumerate() {
        for m in 0..4 {
            by_guarantee[guarantee_of[s]][m] |= st[m];
        }
    }
    // A target in detail (by district, sex and age), or in total only (district slot 0).
    let count = |target: &mut Target, st: &[bool; 4], detail: bool| {
        // Undetermined counts only where nothing made the household eligible.
        let on = [st[ELIGIBLE], st[UNDETERMINED] && !st[ELIGIBLE], st[REFERRED], st[ENROLLED]];
        let slot = if detail { d } else { 0 };
        for m in (0..4).filter(|&m| on[m]) {
            target.households[slot][m] += 1;
            target.people[slot][m] += people;
            if detail {
                for (k, n) in h.sex_age.iter().enumerate() {
                    target.people_sex_age[k][m] += u64::from(*n);
                }
            }
        }
    };
    // Coverage counts (the gaps report has its own below).
    if !req.gaps {
        for (g, st) in by_guarantee.iter().enumerate() {
            count(&mut t.targets[g], st, true);
        }
        for (s, st) in status.iter().enumerate() {
            count(&mut t.targets[4 + s], st, req.focus == Some(s));
        }
    }

    // SDG groups.
    let any = status.iter().fold([false; 4], |mut acc, st| {
        for m in 0..4 {
            acc[m] |= st[m];
        }
        acc
    });
    for (k, (_, guarantee)) in SDG_GROUPS.iter().enumerate() {
        let n = if k == 4 { if h.poor { people } else { 0 } } else { u64::from(h.sdg[k]) };
        if n == 0 {
            continue;
        }
        let st = match guarantee {
            Some(g) => by_guarantee[Guarantee::ALL.iter().position(|(_, x)| x == g).unwrap_or(0)],
            None => any,
        };
        let on = [st[ELIGIBLE], st[UNDETERMINED] && !st[ELIGIBLE], st[REFERRED], st[ENROLLED]];
        t.sdg[k].0 += n;
        for m in (0..4).filter(|&m| on[m]) {
            t.sdg[k].1[m] += n;
        }
    }

    if !req.gaps {
        return;
    }
    let Some((_, _, missing)) = &h.decisions else {
        t.undecided += 1;
        return;
    };
    // Eligible for nothing; left with nothing at all.
    if !any[ELIGIBLE] {
        t.nothing[d][0] += 1;
        if !any[UNDETERMINED] && !any[REFERRED] {
            t.nothing[d][1] += 1;
        }
    }
    // Guarantees with a member they are for but nobody covered.
    let has_member = [
        people > 0,                               // health: everyone
        h.sdg[0] > 0,                             // children
        (0..3).any(|s| h.sex_age[s * 4 + 2] > 0), // working age
        (0..3).any(|s| h.sex_age[s * 4 + 3] > 0), // older persons
    ];
    let order: Vec<Guarantee> = Guarantee::ALL.iter().map(|(_, g)| *g).collect();
    for (g, st) in by_guarantee.iter().enumerate() {
        let slot = match order[g] {
            Guarantee::Health => 0,
            Guarantee::Children => 1,
            Guarantee::WorkingAge => 2,
            Guarantee::OldAge => 3,
        };
        if !has_member[slot] {
            continue;
        }
        let cell = &mut t.uncovered[g][d];
        cell[0] += 1;
        if !st[ELIGIBLE] && !st[REFERRED] {
            if st[UNDETERMINED] {
                cell[2] += 1;
            } else {
                cell[1] += 1;
            }
        }
    }
    // Eligible for `days` and not referred.
    let mut stale_here = false;
    for (s, st) in status.iter().enumerate().filter(|(_, st)| st[ELIGIBLE]) {
        t.not_referred_scheme[s][0] += 1;
        let id = req.rules.schemes[req.schemes[s]].id.as_str();
        let since = h.eligible_since.iter().find(|(x, _)| x == id).map_or(h.created_at, |(_, w)| *w);
        if !st[REFERRED] && since <= stale_before {
            t.not_referred_scheme[s][1] += 1;
            stale_here = true;
        }
    }
    if any[ELIGIBLE] {
        t.not_referred_district[d][0] += 1;
        t.not_referred_district[d][1] += u64::from(stale_here);
    }
    // What the undetermined decisions wait for.
    match missing {
        None if any[UNDETERMINED] => t.missing_unknown += 1,
        None => {}
        Some(text) => {
            let fields = &mut scratch.fields;
            fields.clear();
            let mut waiting = false;
            for (scheme, list) in parse_missing(text) {
                let Some(&s) = scheme_pos.get(scheme) else { continue };
                if !status[s][UNDETERMINED] {
                    continue;
                }
                waiting = true;
                let alone = list.clone().count() == 1;
                for f in list {
                    let i = t.field(f);
                    let e = &mut t.field_counts[i];
                    e[0] += 1;
                    e[1] += u64::from(alone);
                    if !fields.contains(&i) {
                        fields.push(i);
                    }
                }
            }
            for &i in fields.iter() {
                t.field_counts[i][2] += 1;
            }
            if waiting {
                t.few_missing[d][0] += 1;
                t.few_missing[d][1] += u64::from(!fields.is_empty() && fields.len() <= 3);
            }
        }
    }
}
