//! The impact of a rule change on the registry: every household (or one district's) decided
//! under the rules in force and under the proposed rules, side by side, chunk by chunk.
//!
//! Per scheme, each household falls in exactly one class: `gained` (eligible now, not before),
//! `lost` (eligible before, not eligible now), `newly_undetermined` (undetermined now, decided
//! before), `resolved` (undetermined before, not eligible now) or `unchanged`. The classes are
//! also counted by district, by sex of the head and by age band of the head; the missing
//! fields behind each newly undetermined decision are counted; up to 20 household numbers are
//! kept per cell; and with a report id every changed (household, scheme) is stored in
//! `impact_changes`. Memory stays bounded by the chunk size (times the readers) whatever the
//! registry's size.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

use super::scan::{Scan, Scanned};
use crate::db::DbConnection;
use crate::db::schema::impact_changes;
use crate::domain::codes::Relation;
use crate::domain::codes::Sex;
use crate::per_backend;
use crate::rules::columnar::Chunk;
use crate::rules::dict::{self, Facts, Scope};
use crate::rules::uses::{self, Needs};
use crate::rules::{Explanation, RuleSet, Status};

/// The classes, in the order of the counters.
pub const CLASSES: [&str; 5] = ["gained", "lost", "newly_undetermined", "resolved", "unchanged"];
const UNCHANGED: usize = 4;
/// Breakdown cells under this many households are suppressed.
pub const SUPPRESS_BELOW: u64 = 5;
/// Household numbers kept per cell.
pub const SAMPLES: usize = 20;
/// The sexes and age bands of the head, as breakdown keys.
const SEXES: [&str; 4] = ["female", "male", "transgender", "unknown"];
const BANDS: [&str; 5] = ["0-17", "18-39", "40-59", "60+", "unknown"];
const DIMS: [&str; 3] = ["district", "sex", "age_band"];

/// The class of a household's change on one scheme.
pub fn classify(before: Status, after: Status) -> usize {
    match (before, after) {
        (b, a) if b == a => UNCHANGED,
        (_, Status::Eligible) => 0,
        (Status::Eligible, Status::NotEligible) => 1,
        (_, Status::Undetermined) => 2,
        (Status::Undetermined, Status::NotEligible) => 3,
        _ => UNCHANGED,
    }
}

/// What to compute.
pub struct Input<'a> {
    /// The rules in force.
    pub before: &'a RuleSet,
    /// The proposed rules.
    pub after: &'a RuleSet,
    /// The date both are evaluated on.
    pub as_of: NaiveDate,
    /// One district, or the whole registry.
    pub district: Option<&'a str>,
    /// The schemes the change touches: always reported, even with nothing changed.
    pub focus: &'a [String],
    /// With an id: the changed (household, scheme) pairs are stored under it.
    pub store_as: Option<&'a str>,
    /// Counts only: no breakdowns, samples, missing fields or stored changes.
    pub counts_only: bool,
    /// Households per chunk.
    pub chunk: i64,
}

/// One scheme's headline counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SchemeCounts {
    pub scheme: String,
    pub name: Option<crate::rules::Text>,
    pub gained: u64,
    pub lost: u64,
    pub newly_undetermined: u64,
    pub resolved: u64,
    pub unchanged: u64,
    pub eligible_before: u64,
    pub eligible_after: u64,
}

impl SchemeCounts {
    /// The four headline counts (the unchanged follow from them).
    pub fn headline(&self) -> [u64; 4] {
        [self.gained, self.lost, self.newly_undetermined, self.resolved]
    }
}

/// One breakdown row; a suppressed cell is `None`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    pub gained: Option<u64>,
    pub lost: Option<u64>,
    pub newly_undetermined: Option<u64>,
    pub resolved: Option<u64>,
    pub unchanged: Option<u64>,
}

/// A scheme's breakdown by one dimension.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub scheme: String,
    /// `district`, `sex` or `age_band` (of the head of household).
    pub by: &'static str,
    pub rows: Vec<Row>,
}

/// How often a missing field is behind a newly undetermined decision.
#[derive(Debug, Clone, Serialize)]
pub struct MissingCount {
    pub scheme: String,
    pub field: String,
    /// Households (a field missing for several members counts once).
    pub households: u64,
}

/// Household numbers of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub scheme: String,
    pub change: &'static str,
    /// `total`, `district`, `sex` or `age_band`.
    pub by: &'static str,
    pub key: String,
    pub households: Vec<String>,
}

/// The computed impact.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Households read.
    pub households: u64,
    /// Per scheme: the focus schemes and every other scheme with a change.
    pub schemes: Vec<SchemeCounts>,
    pub breakdowns: Vec<Breakdown>,
    pub missing_fields: Vec<MissingCount>,
    pub samples: Vec<Sample>,
    /// Changed (household, scheme) pairs stored.
    pub stored_changes: u64,
}

impl Outcome {
    /// The report's result fields with the rule hashes they were computed from (the stored
    /// reports and `rules simulate` print the same).
    pub fn json(&self, before: &RuleSet, after: &RuleSet) -> serde_json::Map<String, serde_json::Value> {
        let value = serde_json::json!({
            "registry_households": self.households,
            "engine_version": super::activation::ENGINE_VERSION,
            "rules_before": before.version,
            "rules_after": after.version,
            "suppressed_below": SUPPRESS_BELOW,
            "schemes": self.schemes,
            "breakdowns": self.breakdowns,
            "missing_fields": self.missing_fields,
            "samples": self.samples,
        });
        match value {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// A stored change.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = impact_changes)]
pub struct ChangeRow {
    pub report_id: String,
    pub household_id: String,
    pub scheme_id: String,
    pub change: String,
    pub before_status: String,
    pub after_status: String,
}

/// The age band of a head born on `born`, on `as_of`.
fn band(born: NaiveDate, as_of: NaiveDate) -> usize {
    let mut age = as_of.year() - born.year();
    if (as_of.month(), as_of.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    match age {
        ..18 => 0,
        18..40 => 1,
        40..60 => 2,
        _ => 3,
    }
}

/// A member slot by field name.
fn slot(name: &str) -> usize {
    dict::lookup(Scope::Member, name).map_or(0, |f| f.slot)
}

/// The date of a `yyyymmdd` slot value.
fn date_of_slot(v: i64) -> Option<NaiveDate> {
    if v == crate::rules::num::UNKNOWN {
        return None;
    }
    NaiveDate::from_ymd_opt(
        i32::try_from(v / 10_000).ok()?,
        u32::try_from(v / 100 % 100).ok()?,
        u32::try_from(v % 100).ok()?,
    )
}

/// Everything counted so far.
struct Tally {
    ids: Vec<String>,
    /// Per union scheme: index in `before` and in `after`.
    sides: Vec<(Option<usize>, Option<usize>)>,
    counts: Vec<[u64; 5]>,
    eligible: Vec<[u64; 2]>,
    districts: Vec<String>,
    district_index: HashMap<String, usize>,
    /// `[scheme][district][class]`, grown as districts appear.
    by_district: Vec<Vec<[u64; 5]>>,
    by_sex: Vec<[[u64; 5]; 4]>,
    by_band: Vec<[[u64; 5]; 5]>,
    /// `(scheme, class, dim, key)` → household numbers; dim 3 is the total.
    samples: BTreeMap<(usize, usize, usize, String), Vec<String>>,
    missing: BTreeMap<(usize, &'static str), u64>,
    households: u64,
}

impl Tally {
    fn new(ids: Vec<String>, sides: Vec<(Option<usize>, Option<usize>)>, n: usize) -> Tally {
        Tally {
            ids,
            sides,
            counts: vec![[0; 5]; n],
            eligible: vec![[0; 2]; n],
            districts: Vec::new(),
            district_index: HashMap::new(),
            by_district: vec![Vec::new(); n],
            by_sex: vec![[[0; 5]; 4]; n],
            by_band: vec![[[0; 5]; 5]; n],
            samples: BTreeMap::new(),
            missing: BTreeMap::new(),
            households: 0,
        }
    }

    /// A district's position, added on first sight.
    fn district(&mut self, code: &str) -> usize {
        if let Some(&d) = self.district_index.get(code) {
            return d;
        }
        let d = self.districts.len();
        self.districts.push(code.to_string());
        self.district_index.insert(code.to_string(), d);
        for per in &mut self.by_district {
            per.push([0; 5]);
        }
        d
    }

    /// Adds what a later chunk counted (chunks are absorbed in order, so samples and the
    /// order districts are first seen in are as if counted in one pass).
    fn absorb(&mut self, part: Tally) {
        self.households += part.households;
        for (u, counts) in part.counts.iter().enumerate() {
            for (total, c) in self.counts[u].iter_mut().zip(counts) {
                *total += c;
            }
            self.eligible[u][0] += part.eligible[u][0];
            self.eligible[u][1] += part.eligible[u][1];
            for (to, from) in self.by_sex[u].iter_mut().flatten().zip(part.by_sex[u].iter().flatten()) {
                *to += from;
            }
            for (to, from) in self.by_band[u].iter_mut().flatten().zip(part.by_band[u].iter().flatten()) {
                *to += from;
            }
        }
        for (pd, code) in part.districts.iter().enumerate() {
            let d = self.district(code);
            for u in 0..part.by_district.len() {
                for (to, from) in self.by_district[u][d].iter_mut().zip(&part.by_district[u][pd]) {
                    *to += from;
                }
            }
        }
        for (key, numbers) in part.samples {
            let list = self.samples.entry(key).or_default();
            let room = SAMPLES.saturating_sub(list.len());
            list.extend(numbers.into_iter().take(room));
        }
        for (key, count) in part.missing {
            *self.missing.entry(key).or_default() += count;
        }
    }

    fn sample(&mut self, key: (usize, usize, usize, String), number: &str) {
        let list = self.samples.entry(key).or_default();
        if list.len() < SAMPLES {
            list.push(number.to_string());
        }
    }
}

/// Runs both rule sets over the registry (see the module documentation). `readers` are extra
/// connections that each take the next chunk, read it and decide it, side by side, while
/// `conn` counts the chunks in order and stores their changes; with none, `conn` does it all.
pub fn compute<R: std::ops::DerefMut<Target = DbConnection> + Send>(
    conn: &mut DbConnection,
    readers: Vec<R>,
    input: &Input<'_>,
) -> anyhow::Result<Outcome> {
    let (before, after) = (input.before, input.after);
    let mut ids: Vec<String> = before.schemes.iter().chain(&after.schemes).map(|s| s.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let sides: Vec<(Option<usize>, Option<usize>)> = ids
        .iter()
        .map(|id| (before.schemes.iter().position(|s| s.id == *id), after.schemes.iter().position(|s| s.id == *id)))
        .collect();
    let same_schemes = before.schemes.len() == after.schemes.len()
        && before.schemes.iter().zip(&after.schemes).all(|(a, b)| a.id == b.id);
    let n = ids.len();
    let mut t = Tally::new(ids, sides, n);
    // Only the schemes that may decide differently (and the focus) are evaluated; every other
    // scheme decides each household as before, so it is `unchanged` throughout and left out of
    // the report. Only the fields the evaluated schemes read are read.
    let changed = uses::may_change(before, after);
    let wanted = |set: &RuleSet| -> Vec<bool> {
        let mut w: Vec<bool> =
            set.schemes.iter().map(|s| changed.contains(&s.id) || input.focus.contains(&s.id)).collect();
        uses::with_dependencies(set, &mut w);
        w
    };
    let (want_before, want_after) = (wanted(before), wanted(after));
    let evaluated: Vec<usize> = (0..n)
        .filter(|&u| {
            let (bi, ai) = t.sides[u];
            bi.is_some_and(|i| want_before[i]) || ai.is_some_and(|i| want_after[i])
        })
        .collect();
    let mut needs = Needs::default();
    needs.add_schemes(before, &want_before);
    needs.add_schemes(after, &want_after);
    if !input.counts_only {
        // The head's sex and age band for the breakdowns.
        for f in ["relation_to_head", "sex", "date_of_birth"] {
            if let Some(f) = dict::lookup(Scope::Member, f) {
                needs.add_member_slot(f.slot);
            }
        }
    }
    let scan = Scan::new(conn, needs, input.district);
    let (ids, sides) = (t.ids.clone(), t.sides.clone());
    let plan = Plan {
        input,
        ids: &ids,
        sides: &sides,
        evaluated: &evaluated,
        bound: (before.bind(input.as_of), after.bind(input.as_of)),
        want: (&want_before, &want_after),
        same_schemes,
        slots: (slot("relation_to_head"), slot("sex"), slot("date_of_birth")),
    };
    let mut stored = 0u64;
    let mut store = |conn: &mut DbConnection, changes: Vec<ChangeRow>| -> QueryResult<()> {
        stored += changes.len() as u64;
        for batch in changes.chunks(5_000) {
            per_backend!(conn, |c| diesel::insert_into(impact_changes::table).values(batch).execute(c))?;
        }
        Ok(())
    };
    if readers.is_empty() {
        let (mut last, mut work) = (String::new(), Work::default());
        while let Some(mut rows) = scan.households(conn, &last, input.chunk)? {
            scan.complete(conn, &last, &mut rows)?;
            last = rows.last().map(|r| r.id.clone()).unwrap_or_default();
            let (part, changes) = plan.decide(rows, &mut work);
            t.absorb(part);
            store(conn, changes)?;
        }
    } else {
        // Each reader takes the next chunk's households (one at a time, for the order), then
        // reads its members and decides it on its own: one reader's queries run while
        // another decodes and decides. The parts are counted in chunk order, so samples and
        // districts come out as from one reader.
        let next = std::sync::Mutex::new((String::new(), 0u64, false));
        let workers = readers.len();
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let (sender, parts) = std::sync::mpsc::sync_channel::<(u64, QueryResult<(Tally, Vec<ChangeRow>)>)>(workers);
            for mut reader in readers {
                let (sender, next, scan, plan) = (sender.clone(), &next, &scan, &plan);
                scope.spawn(move || {
                    let mut work = Work::default();
                    loop {
                        let taken = {
                            let mut next = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            if next.2 {
                                break;
                            }
                            let after = next.0.clone();
                            let seq = next.1;
                            match scan.households(&mut reader, &after, input.chunk) {
                                Ok(Some(rows)) => {
                                    next.0 = rows.last().map(|r| r.id.clone()).unwrap_or_default();
                                    next.1 += 1;
                                    Ok((seq, after, rows))
                                }
                                Ok(None) => {
                                    next.2 = true;
                                    break;
                                }
                                Err(e) => {
                                    next.2 = true;
                                    Err((seq, e))
                                }
                            }
                        };
                        let sent = match taken {
                            Ok((seq, after, mut rows)) => {
                                let result = scan
                                    .complete(&mut reader, &after, &mut rows)
                                    .map(|()| plan.decide(rows, &mut work));
                                let failed = result.is_err();
                                if failed {
                                    next.lock().unwrap_or_else(std::sync::PoisonError::into_inner).2 = true;
                                }
                                sender.send((seq, result)).is_ok() && !failed
                            }
                            Err((seq, e)) => {
                                let _ = sender.send((seq, Err(e)));
                                false
                            }
                        };
                        if !sent {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            let mut waiting = BTreeMap::new();
            let mut expected = 0u64;
            for (seq, part) in parts {
                let part = part?;
                waiting.insert(seq, part);
                while let Some((part, changes)) = waiting.remove(&expected) {
                    t.absorb(part);
                    store(conn, changes)?;
                    expected += 1;
                }
            }
            anyhow::ensure!(waiting.is_empty(), "a reader stopped before its chunk was decided");
            Ok(())
        })?;
    }
    // The schemes not evaluated decided every household alike.
    for u in (0..n).filter(|u| !evaluated.contains(u)) {
        t.counts[u][UNCHANGED] = t.households;
    }
    Ok(finish(t, input, stored))
}

/// What every reader shares: the rule sets bound to the date and what to evaluate.
struct Plan<'a> {
    input: &'a Input<'a>,
    ids: &'a [String],
    sides: &'a [(Option<usize>, Option<usize>)],
    /// The union schemes evaluated.
    evaluated: &'a [usize],
    bound: (crate::rules::eval::Bound<'a>, crate::rules::eval::Bound<'a>),
    want: (&'a [bool], &'a [bool]),
    same_schemes: bool,
    /// Member slots of the relation to the head, the sex and the date of birth.
    slots: (usize, usize, usize),
}

/// One reader's reusable buffers.
#[derive(Default)]
struct Work {
    before: Vec<Status>,
    after: Vec<Status>,
    explanation: Explanation,
}

impl Plan<'_> {
    /// Decides one chunk under both rule sets: what it adds to the tally, and its changes.
    fn decide(&self, mut rows: Vec<Scanned>, work: &mut Work) -> (Tally, Vec<ChangeRow>) {
        let input = self.input;
        let (before, after) = (input.before, input.after);
        let (bound_before, bound_after) = (&self.bound.0, &self.bound.1);
        let (relation, sex_slot, dob_slot) = self.slots;
        let same_schemes = self.same_schemes;
        let facts_for = |set: &RuleSet, rows: &mut [Scanned]| -> Vec<Facts> {
            rows.iter_mut()
                .map(|row| {
                    let mut f = if same_schemes { std::mem::take(&mut row.facts) } else { row.facts.clone() };
                    f.enrolled =
                        row.enrolled.iter().filter_map(|s| set.schemes.iter().position(|x| x.id == *s)).collect();
                    f
                })
                .collect()
        };
        let mut facts_before = facts_for(before, &mut rows);
        let columns = Chunk::from_facts(&mut facts_before, input.as_of);
        bound_before.statuses_columnar_of(&columns, Some(self.want.0), &mut work.before);
        let mut facts_after = if same_schemes { facts_before } else { facts_for(after, &mut rows) };
        if same_schemes {
            bound_after.statuses_columnar_of(&columns, Some(self.want.1), &mut work.after);
        } else {
            let columns_after = Chunk::from_facts(&mut facts_after, input.as_of);
            bound_after.statuses_columnar_of(&columns_after, Some(self.want.1), &mut work.after);
        }
        drop(columns);
        let (st_before, st_after) = (&work.before, &work.after);
        let (nb, na) = (before.schemes.len(), after.schemes.len());
        let mut t = Tally::new(Vec::new(), Vec::new(), self.ids.len());
        let mut changes = Vec::new();
        for (h, row) in rows.iter().enumerate() {
            t.households += 1;
            let d = t.district(&row.district);
            let (mut sex, mut age) = (3, 4);
            if !input.counts_only
                && let Some(head) = facts_after[h].members.iter().find(|m| m[relation] == Relation::Head.index() as i64)
            {
                sex = usize::try_from(head[sex_slot])
                    .ok()
                    .and_then(|i| Sex::TEXTS.get(i))
                    .and_then(|s| SEXES.iter().position(|x| x == s))
                    .unwrap_or(3);
                age = date_of_slot(head[dob_slot]).map_or(4, |born| band(born, input.as_of));
            }
            let mut explained = false;
            for &u in self.evaluated {
                let (bi, ai) = self.sides[u];
                let sb = bi.map_or(Status::NotEligible, |i| st_before[h * nb + i]);
                let sa = ai.map_or(Status::NotEligible, |i| st_after[h * na + i]);
                let class = classify(sb, sa);
                t.counts[u][class] += 1;
                t.eligible[u][0] += u64::from(sb == Status::Eligible);
                t.eligible[u][1] += u64::from(sa == Status::Eligible);
                if input.counts_only {
                    continue;
                }
                t.by_district[u][d][class] += 1;
                t.by_sex[u][sex][class] += 1;
                t.by_band[u][age][class] += 1;
                if class == UNCHANGED {
                    continue;
                }
                let number = row.number.as_str();
                t.sample((u, class, 3, String::new()), number);
                t.sample((u, class, 0, row.district.clone()), number);
                t.sample((u, class, 1, SEXES[sex].to_string()), number);
                t.sample((u, class, 2, BANDS[age].to_string()), number);
                if class == 2
                    && let Some(ai) = ai
                {
                    if !explained {
                        bound_after.explain(&mut facts_after[h], &mut work.explanation);
                        explained = true;
                    }
                    let mut fields: Vec<&'static str> =
                        work.explanation.results[ai].missing.iter().map(|m| m.field).collect();
                    fields.sort_unstable();
                    fields.dedup();
                    for f in fields {
                        *t.missing.entry((u, f)).or_default() += 1;
                    }
                }
                if let Some(report) = input.store_as {
                    changes.push(ChangeRow {
                        report_id: report.to_string(),
                        household_id: row.id.clone(),
                        scheme_id: self.ids[u].clone(),
                        change: CLASSES[class].to_string(),
                        before_status: sb.as_str().to_string(),
                        after_status: sa.as_str().to_string(),
                    });
                }
            }
        }
        (t, changes)
    }
}

fn cell(value: u64) -> Option<u64> {
    (value == 0 || value >= SUPPRESS_BELOW).then_some(value)
}

fn row(key: String, counts: &[u64; 5]) -> Row {
    Row {
        key,
        gained: cell(counts[0]),
        lost: cell(counts[1]),
        newly_undetermined: cell(counts[2]),
        resolved: cell(counts[3]),
        unchanged: cell(counts[4]),
    }
}

fn finish(t: Tally, input: &Input<'_>, stored: u64) -> Outcome {
    let reported: Vec<usize> = (0..t.ids.len())
        .filter(|&u| input.focus.contains(&t.ids[u]) || t.counts[u][..UNCHANGED].iter().any(|&c| c > 0))
        .collect();
    let name = |u: usize| {
        let (bi, ai) = t.sides[u];
        ai.map(|i| &input.after.schemes[i]).or(bi.map(|i| &input.before.schemes[i])).map(|s| s.name.clone())
    };
    let schemes = reported
        .iter()
        .map(|&u| {
            let c = t.counts[u];
            SchemeCounts {
                scheme: t.ids[u].clone(),
                name: name(u),
                gained: c[0],
                lost: c[1],
                newly_undetermined: c[2],
                resolved: c[3],
                unchanged: c[4],
                eligible_before: t.eligible[u][0],
                eligible_after: t.eligible[u][1],
            }
        })
        .collect();
    let mut breakdowns = Vec::new();
    let mut order: Vec<usize> = (0..t.districts.len()).collect();
    order.sort_by(|a, b| t.districts[*a].cmp(&t.districts[*b]));
    if !input.counts_only {
        for &u in &reported {
            let scheme = t.ids[u].clone();
            breakdowns.push(Breakdown {
                scheme: scheme.clone(),
                by: DIMS[0],
                rows: order.iter().map(|&d| row(t.districts[d].clone(), &t.by_district[u][d])).collect(),
            });
            breakdowns.push(Breakdown {
                scheme: scheme.clone(),
                by: DIMS[1],
                rows: (0..4).map(|s| row(SEXES[s].into(), &t.by_sex[u][s])).collect(),
            });
            breakdowns.push(Breakdown {
                scheme,
                by: DIMS[2],
                rows: (0..5).map(|b| row(BANDS[b].into(), &t.by_band[u][b])).collect(),
            });
        }
    }
    let missing_fields = t
        .missing
        .iter()
        .map(|(&(u, field), &households)| MissingCount { scheme: t.ids[u].clone(), field: field.into(), households })
        .collect();
    // Samples of suppressed cells are left out with the cell.
    let samples = t
        .samples
        .into_iter()
        .filter(|((u, class, dim, key), _)| {
            let count = match dim {
                0 => t.district_index.get(key).map_or(0, |&d| t.by_district[*u][d][*class]),
                1 => SEXES.iter().position(|s| s == key).map_or(0, |s| t.by_sex[*u][s][*class]),
                2 => BANDS.iter().position(|b| b == key).map_or(0, |b| t.by_band[*u][b][*class]),
                _ => SUPPRESS_BELOW,
            };
            reported.contains(u) && count >= SUPPRESS_BELOW
        })
        .map(|((u, class, dim, key), households)| Sample {
            scheme: t.ids[u].clone(),
            change: CLASSES[class],
            by: if dim == 3 { "total" } else { DIMS[dim] },
            key,
            households,
        })
        .collect();
    Outcome { households: t.households, schemes, breakdowns, missing_fields, samples, stored_changes: stored }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_statuses_has_one_class() {
        use Status::*;
        let all = [Eligible, NotEligible, Undetermined];
        let mut seen = [0; 5];
        for b in all {
            for a in all {
                seen[classify(b, a)] += 1;
            }
        }
        // gained: from not eligible or undetermined; lost: from eligible to not eligible;
        // newly undetermined: from eligible or not eligible; resolved: one; unchanged: three.
        assert_eq!(seen, [2, 1, 2, 1, 3]);
        assert_eq!(classify(Eligible, Undetermined), 2);
        assert_eq!(classify(Undetermined, NotEligible), 3);
    }

    #[test]
    fn age_bands_turn_on_the_birthday() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(band(d(1966, 12, 6), d(2026, 12, 6)), 3);
        assert_eq!(band(d(1966, 12, 7), d(2026, 12, 6)), 2);
        assert_eq!(band(d(2008, 12, 7), d(2026, 12, 6)), 0);
    }
}
