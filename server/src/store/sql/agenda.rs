//! The parents' agenda: rules, closed days, extra-day requests, swaps,
//! cancelled days and the tegoed ledger (migration 0011). The rules in
//! words and the fit check are `crate::portal::agenda`.

use super::conn::{Connection, DbError, Row, RowExt, params, query_all, query_one, time_str};
use super::feed::{EntityKind, group_change, parse_days};
use crate::org::{Changed, days_str};
use crate::portal::agenda::{
    AgendaRefusal, AgendaRules, CancelKind, CancelOutcome, CancelledDay, ChildAgenda, CreditRow,
    DayRequestView, NewDayRequest, Payment, PlannedDay, RequestStatus, VacationHours, weekday_of,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_bkr::Care;
use kring_protocol::{ChildId, GroupId, OrganisationId, ParentId, PartOfDay, Weekday};

/// The organisation's rules (the defaults when it set none).
pub fn rules(c: &Connection, org: &OrganisationId) -> Result<AgendaRules, DbError> {
    Ok(query_one(
        c,
        "SELECT notice_working_days, credit_valid_months, working_days,
                vacation_morning_hours, vacation_afternoon_hours, vacation_day_hours
         FROM agenda_rules WHERE organisation_id = ?1",
        params![org.to_string()],
        |r| {
            Ok(AgendaRules {
                notice_working_days: u32::try_from(r.get::<_, i64>("notice_working_days")?)
                    .unwrap_or(0),
                credit_valid_months: u32::try_from(r.get::<_, i64>("credit_valid_months")?)
                    .unwrap_or(0),
                working_days: parse_days(&r.get::<_, String>("working_days")?),
                vacation_hours: VacationHours {
                    morning: u32::try_from(r.get::<_, i64>("vacation_morning_hours")?).unwrap_or(0),
                    afternoon: u32::try_from(r.get::<_, i64>("vacation_afternoon_hours")?)
                        .unwrap_or(0),
                    whole_day: u32::try_from(r.get::<_, i64>("vacation_day_hours")?).unwrap_or(0),
                },
            })
        },
    )?
    .unwrap_or_default())
}

pub fn set_rules(c: &Connection, org: &OrganisationId, rules: &AgendaRules) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO agenda_rules (organisation_id, notice_working_days, credit_valid_months, working_days,
           vacation_morning_hours, vacation_afternoon_hours, vacation_day_hours)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (organisation_id) DO UPDATE SET
           notice_working_days = excluded.notice_working_days,
           credit_valid_months = excluded.credit_valid_months,
           working_days = excluded.working_days,
           vacation_morning_hours = excluded.vacation_morning_hours,
           vacation_afternoon_hours = excluded.vacation_afternoon_hours,
           vacation_day_hours = excluded.vacation_day_hours",
        params![
            org.to_string(),
            i64::from(rules.notice_working_days),
            i64::from(rules.credit_valid_months),
            days_str(&rules.working_days),
            i64::from(rules.vacation_hours.morning),
            i64::from(rules.vacation_hours.afternoon),
            i64::from(rules.vacation_hours.whole_day)
        ],
    )?;
    Ok(())
}

/// Closes the location of `group` on `day` (a holiday); the same day again
/// renames it.
pub fn add_closed_day(
    c: &Connection,
    group: &GroupId,
    day: NaiveDate,
    name: &str,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO closed_days (location_id, day, name)
         SELECT location_id, ?2, ?3 FROM groups WHERE id = ?1
         ON CONFLICT (location_id, day) DO UPDATE SET name = excluded.name",
        params![group.to_string(), day.to_string(), name],
    )?;
    Ok(())
}

/// The closed days of `group`'s location from `from` to `to`.
pub fn closed_days(
    c: &Connection,
    group: &GroupId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, String)>, DbError> {
    query_all(
        c,
        "SELECT cd.day, cd.name FROM closed_days cd JOIN groups g ON g.location_id = cd.location_id
         WHERE g.id = ?1 AND cd.day >= ?2 AND cd.day <= ?3 ORDER BY cd.day",
        params![group.to_string(), from.to_string(), to.to_string()],
        |r| Ok((r.date("day")?, r.get::<_, String>("name")?)),
    )
}

pub(super) fn closed_dates(
    c: &Connection,
    group: &GroupId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, DbError> {
    Ok(closed_days(c, group, from, to)?
        .into_iter()
        .map(|(d, _)| d)
        .collect())
}

pub(super) fn child_org(
    c: &Connection,
    child: &ChildId,
) -> Result<Option<OrganisationId>, DbError> {
    query_one(
        c,
        "SELECT organisation_id FROM children WHERE id = ?1",
        params![child.to_string()],
        |r| r.id::<OrganisationId>("organisation_id"),
    )
}

/// The child's placement covering `day`: its group and contract weekdays.
fn placement_on(
    c: &Connection,
    child: &ChildId,
    day: NaiveDate,
) -> Result<Option<(GroupId, Vec<Weekday>)>, DbError> {
    query_one(
        c,
        "SELECT group_id, days FROM placements
         WHERE child_id = ?1 AND start_date <= ?2 AND (end_date IS NULL OR end_date >= ?2)
         ORDER BY start_date DESC LIMIT 1",
        params![child.to_string(), day.to_string()],
        |r| {
            Ok((
                r.id::<GroupId>("group_id")?,
                parse_days(&r.get::<_, String>("days")?),
            ))
        },
    )
}

fn is_cancelled(
    c: &Connection,
    child: &ChildId,
    group: &GroupId,
    day: NaiveDate,
) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT 1 AS one FROM day_cancellations WHERE child_id = ?1 AND group_id = ?2 AND day = ?3",
        params![child.to_string(), group.to_string(), day.to_string()],
        |r| r.get::<_, i64>("one"),
    )?
    .is_some())
}

/// Writes an `expired` row for every earned day of the child's tegoed that
/// is past its date and not used up.
fn expire_credit(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let gone = query_all(
        c,
        "SELECT e.id FROM credit_ledger e
         WHERE e.child_id = ?1 AND e.kind = 'earned' AND e.valid_until < ?2
           AND NOT EXISTS (SELECT 1 FROM credit_ledger u WHERE u.earned_id = e.id)",
        params![child.to_string(), today.to_string()],
        |r| r.get::<_, String>("id"),
    )?;
    for e in gone {
        c.execute(
            "INSERT INTO credit_ledger (id, child_id, kind, earned_id, at) VALUES (?1, ?2, 'expired', ?3, ?4)",
            params![uuid::Uuid::now_v7().to_string(), child.to_string(), e, time_str(now)],
        )?;
    }
    Ok(())
}

/// The oldest earned, unused, still valid day of tegoed.
fn usable_credit(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Vec<String>, DbError> {
    query_all(
        c,
        "SELECT e.id FROM credit_ledger e
         WHERE e.child_id = ?1 AND e.kind = 'earned' AND e.valid_until >= ?2
           AND NOT EXISTS (SELECT 1 FROM credit_ledger u WHERE u.earned_id = e.id)
         ORDER BY e.valid_until, e.id",
        params![child.to_string(), today.to_string()],
        |r| r.get::<_, String>("id"),
    )
}

fn pending_credit(c: &Connection, child: &ChildId) -> Result<u32, DbError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) AS n FROM day_requests WHERE child_id = ?1 AND payment = 'credit' AND status = 'requested'",
        params![child.to_string()],
        |r| r.get(0),
    )?;
    Ok(u32::try_from(n).unwrap_or(0))
}

fn part_str(p: PartOfDay) -> &'static str {
    match p {
        PartOfDay::WholeDay => "whole_day",
        PartOfDay::Morning => "morning",
        PartOfDay::Afternoon => "afternoon",
    }
}

fn parse_part(s: &str) -> PartOfDay {
    match s {
        "morning" => PartOfDay::Morning,
        "afternoon" => PartOfDay::Afternoon,
        _ => PartOfDay::WholeDay,
    }
}

const REQUEST_COLUMNS: &str = "r.id, r.child_id, c.first_name, c.birth_date, r.group_id, g.name AS group_name,
    r.day, r.part_of_day, r.payment, r.gives_up, r.status, r.requested_by, r.decided_by, r.decided_at
    FROM day_requests r JOIN children c ON c.id = r.child_id JOIN groups g ON g.id = r.group_id";

fn request_row(r: &Row) -> Result<DayRequestView, DbError> {
    let corrupt = |column: &'static str, value: String| DbError::Corrupt { column, value };
    let payment: String = r.get("payment")?;
    let status: String = r.get("status")?;
    Ok(DayRequestView {
        id: r.get("id")?,
        child: r.id("child_id")?,
        child_name: r.get("first_name")?,
        birth_date: r.date("birth_date")?,
        group: r.id("group_id")?,
        group_name: r.get("group_name")?,
        day: r.date("day")?,
        part_of_day: parse_part(&r.get::<_, String>("part_of_day")?),
        payment: Payment::parse(&payment)
            .ok_or_else(|| corrupt("day_requests.payment", payment))?,
        gives_up: r.opt_date("gives_up")?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| corrupt("day_requests.status", status))?,
        requested_by: r.get("requested_by")?,
        decided_by: r.get("decided_by")?,
        decided_at: r.opt_time("decided_at")?,
    })
}

/// The child's agenda from `from` to `to`, with its tegoed of `today`
/// (expired tegoed is written off first). None when not the parent's child.
pub fn agenda_for_parent(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<ChildAgenda>, DbError> {
    let Some(kid) = super::portal::my_child(c, parent, child, today)? else {
        return Ok(None);
    };
    let Some(org) = child_org(c, child)? else {
        return Ok(None);
    };
    expire_credit(c, child, today, now)?;
    let mut closed = Vec::new();
    let mut groups: Vec<GroupId> = kid.placements.iter().map(|p| p.group).collect();
    groups.dedup();
    for g in &groups {
        for cd in closed_days(c, g, from, to)? {
            if !closed.contains(&cd) {
                closed.push(cd);
            }
        }
    }
    closed.sort();
    let requests = query_all(
        c,
        &format!(
            "SELECT {REQUEST_COLUMNS} WHERE r.child_id = ?1 ORDER BY r.day DESC, r.id LIMIT 200"
        ),
        params![child.to_string()],
        request_row,
    )?;
    let cancelled = query_all(
        c,
        "SELECT group_id, day, kind FROM day_cancellations
         WHERE child_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
        params![child.to_string(), from.to_string(), to.to_string()],
        |r| {
            let kind: String = r.get("kind")?;
            Ok(CancelledDay {
                group: r.id("group_id")?,
                day: r.date("day")?,
                kind: CancelKind::parse(&kind).ok_or(DbError::Corrupt {
                    column: "day_cancellations.kind",
                    value: kind,
                })?,
            })
        },
    )?;
    let ledger = query_all(
        c,
        "SELECT kind, valid_until, at FROM credit_ledger WHERE child_id = ?1 ORDER BY at DESC, id LIMIT 100",
        params![child.to_string()],
        |r| {
            Ok(CreditRow {
                kind: r.get("kind")?,
                valid_until: r.opt_date("valid_until")?,
                at: r.time("at")?,
            })
        },
    )?;
    Ok(Some(ChildAgenda {
        rules: rules(c, &org)?,
        closed,
        requests,
        cancelled,
        balance: u32::try_from(usable_credit(c, child, today)?.len()).unwrap_or(u32::MAX),
        pending_credit: pending_credit(c, child)?,
        ledger,
    }))
}

/// A parent asks for an extra day. None when not the parent's child.
pub fn request_day(
    c: &Connection,
    parent: &ParentId,
    req: &NewDayRequest,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Result<String, AgendaRefusal>>, DbError> {
    if super::portal::my_child(c, parent, &req.child, today)?.is_none() {
        return Ok(None);
    }
    let Some(org) = child_org(c, &req.child)? else {
        return Ok(None);
    };
    c.lock_row("children", &req.child.to_string())?;
    let refuse = |r| Ok(Some(Err(r)));
    if req.day <= today {
        return refuse(AgendaRefusal::NotAfterToday);
    }
    let Some((group, days)) = placement_on(c, &req.child, req.day)? else {
        return refuse(AgendaRefusal::NotPlaced);
    };
    let rules = rules(c, &org)?;
    let closed = closed_dates(c, &group, req.day, req.day)?;
    if !rules.is_working_day(req.day, &closed) {
        return refuse(AgendaRefusal::Closed);
    }
    if days.contains(&weekday_of(req.day)) && !is_cancelled(c, &req.child, &group, req.day)? {
        return refuse(AgendaRefusal::AlreadyPlanned);
    }
    let open: Option<i64> = query_one(
        c,
        "SELECT 1 AS one FROM day_requests WHERE child_id = ?1 AND status <> 'refused'
           AND (day = ?2 OR gives_up = ?2 OR (CAST(?3 AS TEXT) IS NOT NULL AND (day = ?3 OR gives_up = ?3)))",
        params![
            req.child.to_string(),
            req.day.to_string(),
            req.gives_up.map(|d| d.to_string())
        ],
        |r| r.get::<_, i64>("one"),
    )?;
    if open.is_some() {
        return refuse(AgendaRefusal::AlreadyRequested);
    }
    match req.payment {
        Payment::Paid => {}
        Payment::Credit => {
            expire_credit(c, &req.child, today, now)?;
            let balance = u32::try_from(usable_credit(c, &req.child, today)?.len()).unwrap_or(0);
            if balance <= pending_credit(c, &req.child)? {
                return refuse(AgendaRefusal::NoCredit);
            }
        }
        Payment::Swap => {
            let Some(gives_up) = req.gives_up else {
                return refuse(AgendaRefusal::NotAContractDay);
            };
            if gives_up <= today {
                return refuse(AgendaRefusal::Past);
            }
            if let Err(r) = check_contract_day(c, &rules, &req.child, &group, gives_up)? {
                return refuse(r);
            }
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO day_requests (id, child_id, group_id, day, part_of_day, payment, gives_up, status, requested_by, requested_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'requested', ?8, ?9)",
        params![
            id.clone(),
            req.child.to_string(),
            group.to_string(),
            req.day.to_string(),
            part_str(req.part_of_day),
            req.payment.as_str(),
            match req.payment {
                Payment::Swap => req.gives_up.map(|d| d.to_string()),
                _ => None,
            },
            req.requested_by.clone(),
            time_str(now)
        ],
    )?;
    Ok(Some(Ok(id)))
}

/// `day` is a contract day of the child on `group`, open and not cancelled.
fn check_contract_day(
    c: &Connection,
    rules: &AgendaRules,
    child: &ChildId,
    group: &GroupId,
    day: NaiveDate,
) -> Result<Result<(), AgendaRefusal>, DbError> {
    match placement_on(c, child, day)? {
        Some((g, days)) if g == *group && days.contains(&weekday_of(day)) => {}
        _ => return Ok(Err(AgendaRefusal::NotAContractDay)),
    }
    let closed = closed_dates(c, group, day, day)?;
    if !rules.is_working_day(day, &closed) && !closed.is_empty() {
        return Ok(Err(AgendaRefusal::Closed));
    }
    if is_cancelled(c, child, group, day)? {
        return Ok(Err(AgendaRefusal::AlreadyCancelled));
    }
    Ok(Ok(()))
}

/// A parent cancels a contract day: tegoed when in time. None when not the
/// parent's child.
pub fn cancel_day(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    day: NaiveDate,
    by: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<CancelOutcome>, DbError> {
    if super::portal::my_child(c, parent, child, today)?.is_none() {
        return Ok(None);
    }
    let Some(org) = child_org(c, child)? else {
        return Ok(None);
    };
    c.lock_row("children", &child.to_string())?;
    if day < today {
        return Ok(Some(Err(AgendaRefusal::Past)));
    }
    let Some((group, _)) = placement_on(c, child, day)? else {
        return Ok(Some(Err(AgendaRefusal::NotPlaced)));
    };
    let rules = rules(c, &org)?;
    if let Err(r) = check_contract_day(c, &rules, child, &group, day)? {
        return Ok(Some(Err(r)));
    }
    // every closed day up to the day counts against the notice
    let closed = closed_dates(c, &group, today, day)?;
    let kind = if rules.in_time(today, day, &closed) {
        CancelKind::InTime
    } else {
        CancelKind::Late
    };
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO day_cancellations (id, child_id, group_id, day, kind, cancelled_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.clone(),
            child.to_string(),
            group.to_string(),
            day.to_string(),
            kind.as_str(),
            by,
            time_str(now)
        ],
    )?;
    if kind == CancelKind::InTime {
        c.execute(
            "INSERT INTO credit_ledger (id, child_id, kind, valid_until, cancellation_id, at)
             VALUES (?1, ?2, 'earned', ?3, ?4, ?5)",
            params![
                uuid::Uuid::now_v7().to_string(),
                child.to_string(),
                rules.valid_until(day).to_string(),
                id,
                time_str(now)
            ],
        )?;
    }
    Ok(Some(Ok((
        kind,
        vec![group_change(c, &group, EntityKind::Child, &child.0)?],
    ))))
}

/// The organisation's requests: waiting ones first (soonest day first), then
/// the decided ones of the last 60 days.
pub fn requests_for_org(
    c: &Connection,
    org: &OrganisationId,
    today: NaiveDate,
) -> Result<Vec<DayRequestView>, DbError> {
    query_all(
        c,
        &format!(
            "SELECT {REQUEST_COLUMNS} WHERE c.organisation_id = ?1
               AND (r.status = 'requested' OR r.day >= ?2)
             ORDER BY CASE WHEN r.status = 'requested' THEN 0 ELSE 1 END, r.day, r.id LIMIT 300"
        ),
        params![org.to_string(), (today - Duration::days(60)).to_string()],
        request_row,
    )
}

/// The children planned on `group` on `day`: contract days (not cancelled,
/// no absence) and approved extra days; the staff linked to the group.
pub fn planned_day(c: &Connection, group: &GroupId, day: NaiveDate) -> Result<PlannedDay, DbError> {
    let (kind, max): (String, Option<i64>) = c.query_row(
        "SELECT kind, max_children FROM groups WHERE id = ?1",
        params![group.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let care = if kind == "bso" {
        Care::Bso
    } else {
        Care::Dagopvang
    };
    let max_children = max
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(if care == Care::Bso { 22 } else { 16 });
    let (g, d) = (group.to_string(), day.to_string());
    let contract = query_all(
        c,
        "SELECT c.id, c.birth_date, p.days FROM placements p JOIN children c ON c.id = p.child_id
         WHERE p.group_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)
           AND NOT EXISTS (SELECT 1 FROM day_cancellations x
                           WHERE x.child_id = c.id AND x.group_id = ?1 AND x.day = ?2)
           AND NOT EXISTS (SELECT 1 FROM absences a WHERE a.child_id = c.id AND a.cancelled = 0
                           AND a.from_date <= ?2 AND a.to_date >= ?2)",
        params![g.clone(), d.clone()],
        |r| {
            Ok((
                r.id::<ChildId>("id")?,
                r.date("birth_date")?,
                parse_days(&r.get::<_, String>("days")?),
            ))
        },
    )?;
    let wd = weekday_of(day);
    let mut children: Vec<(ChildId, NaiveDate)> = contract
        .into_iter()
        .filter(|(_, _, days)| days.contains(&wd))
        .map(|(id, b, _)| (id, b))
        .collect();
    let extra = query_all(
        c,
        "SELECT c.id, c.birth_date FROM day_requests r JOIN children c ON c.id = r.child_id
         WHERE r.group_id = ?1 AND r.day = ?2 AND r.status = 'approved'
           AND NOT EXISTS (SELECT 1 FROM absences a WHERE a.child_id = c.id AND a.cancelled = 0
                           AND a.from_date <= ?2 AND a.to_date >= ?2)",
        params![g.clone(), d.clone()],
        |r| Ok((r.id::<ChildId>("id")?, r.date("birth_date")?)),
    )?;
    let vacation = query_all(
        c,
        "SELECT c.id, c.birth_date FROM vacation_requests v JOIN children c ON c.id = v.child_id
         WHERE v.group_id = ?1 AND v.day = ?2 AND v.status = 'approved'
           AND NOT EXISTS (SELECT 1 FROM absences a WHERE a.child_id = c.id AND a.cancelled = 0
                           AND a.from_date <= ?2 AND a.to_date >= ?2)",
        params![g.clone(), d],
        |r| Ok((r.id::<ChildId>("id")?, r.date("birth_date")?)),
    )?;
    let extra: Vec<(ChildId, NaiveDate)> = extra.into_iter().chain(vacation).collect();
    for (id, b) in extra {
        if !children.iter().any(|(c, _)| *c == id) {
            children.push((id, b));
        }
    }
    let rostered = super::roster::rostered_staff(c, group, day)?;
    let linked: i64 = c.query_row(
        "SELECT COUNT(*) FROM staff_groups sg JOIN staff s ON s.id = sg.staff_id
         WHERE sg.group_id = ?1 AND s.role = 'pedagogical'",
        params![g],
        |r| r.get(0),
    )?;
    Ok(PlannedDay {
        care,
        max_children,
        children,
        staff: rostered.unwrap_or(u32::try_from(linked).unwrap_or(0)),
        rostered: rostered.is_some(),
    })
}

/// One request of the organisation, or None.
pub fn request_of_org(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
) -> Result<Option<DayRequestView>, DbError> {
    query_one(
        c,
        &format!("SELECT {REQUEST_COLUMNS} WHERE r.id = ?1 AND c.organisation_id = ?2"),
        params![id, org.to_string()],
        request_row,
    )
}

/// The manager approves or refuses a request of the organisation; tegoed is
/// spent here, in the same transaction. None when not the organisation's.
pub fn decide(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
    approve: bool,
    by: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Result<Changed, AgendaRefusal>>, DbError> {
    let Some(req) = request_of_org(c, org, id)? else {
        return Ok(None);
    };
    c.lock_row("children", &req.child.to_string())?;
    // read again under the lock
    let Some(req) = request_of_org(c, org, id)? else {
        return Ok(None);
    };
    if req.status != RequestStatus::Requested {
        return Ok(Some(Err(AgendaRefusal::AlreadyDecided)));
    }
    let mut changed = Vec::new();
    if approve {
        if req.day < today {
            return Ok(Some(Err(AgendaRefusal::Past)));
        }
        match req.payment {
            Payment::Paid => {}
            Payment::Credit => {
                expire_credit(c, &req.child, today, now)?;
                let Some(earned) = usable_credit(c, &req.child, today)?.into_iter().next() else {
                    return Ok(Some(Err(AgendaRefusal::NoCredit)));
                };
                c.execute(
                    "INSERT INTO credit_ledger (id, child_id, kind, earned_id, request_id, at)
                     VALUES (?1, ?2, 'spent', ?3, ?4, ?5)",
                    params![
                        uuid::Uuid::now_v7().to_string(),
                        req.child.to_string(),
                        earned,
                        req.id.clone(),
                        time_str(now)
                    ],
                )?;
            }
            Payment::Swap => {
                let Some(gives_up) = req.gives_up else {
                    return Ok(Some(Err(AgendaRefusal::NotAContractDay)));
                };
                let rules = rules(c, org)?;
                if let Err(r) = check_contract_day(c, &rules, &req.child, &req.group, gives_up)? {
                    return Ok(Some(Err(r)));
                }
                c.execute(
                    "INSERT INTO day_cancellations (id, child_id, group_id, day, kind, cancelled_by, created_at)
                     VALUES (?1, ?2, ?3, ?4, 'swap', ?5, ?6)",
                    params![
                        uuid::Uuid::now_v7().to_string(),
                        req.child.to_string(),
                        req.group.to_string(),
                        gives_up.to_string(),
                        req.requested_by.clone(),
                        time_str(now)
                    ],
                )?;
            }
        }
        changed.push(group_change(
            c,
            &req.group,
            EntityKind::Child,
            &req.child.0,
        )?);
    }
    let status = if approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Refused
    };
    c.execute(
        "UPDATE day_requests SET status = ?2, decided_by = ?3, decided_at = ?4
         WHERE id = ?1 AND status = 'requested'",
        params![id, status.as_str(), by, time_str(now)],
    )?;
    Ok(Some(Ok(changed)))
}

/// For the feed's child: the approved extra days and cancelled contract
/// days on `group` from `from` on.
pub fn device_days(
    c: &Connection,
    group: &GroupId,
    child: &ChildId,
    from: NaiveDate,
) -> Result<(Vec<NaiveDate>, Vec<NaiveDate>), DbError> {
    let p = params![group.to_string(), child.to_string(), from.to_string()];
    let extra = query_all(
        c,
        "SELECT day FROM day_requests WHERE group_id = ?1 AND child_id = ?2 AND day >= ?3
           AND status = 'approved'
         UNION SELECT day FROM vacation_requests WHERE group_id = ?1 AND child_id = ?2 AND day >= ?3
           AND status = 'approved'
         ORDER BY day",
        p.clone(),
        |r| r.date("day"),
    )?;
    let cancelled = query_all(
        c,
        "SELECT day FROM day_cancellations WHERE group_id = ?1 AND child_id = ?2 AND day >= ?3
         ORDER BY day",
        p,
        |r| r.date("day"),
    )?;
    Ok((extra, cancelled))
}
