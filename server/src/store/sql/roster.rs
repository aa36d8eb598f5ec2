//! The staff roster (a weekly pattern per group plus per-date exceptions),
//! the manager's agenda settings (closed days, group maximum) and BSO
//! vacation hours (migration 0014). The words are `crate::portal::agenda`.

use super::agenda::{child_org, closed_dates, rules};
use super::conn::{Connection, DbError, Row, RowExt, params, query_all, query_one, time_str};
use super::feed::{EntityKind, group_change, parse_days};
use crate::org::{Changed, days_str};
use crate::portal::agenda::{
    BsoChild, ChildVacation, ClosedDay, GroupRoster, NewVacationRequest, RequestStatus,
    RosterException, RosterRefusal, RosterStaff, VacationOutcome, VacationRefusal,
    VacationRequestView, VacationYear, vacation_guaranteed, weekday_of,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use kring_protocol::{
    ChildId, GroupId, LocationId, OrganisationId, ParentId, PartOfDay, StaffId, Weekday,
};

fn group_in_org(c: &Connection, org: &OrganisationId, group: &GroupId) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT 1 AS one FROM groups g JOIN locations l ON l.id = g.location_id
         WHERE g.id = ?1 AND l.organisation_id = ?2",
        params![group.to_string(), org.to_string()],
        |r| r.get::<_, i64>("one"),
    )?
    .is_some())
}

fn pedagogical_in_org(
    c: &Connection,
    org: &OrganisationId,
    staff: &StaffId,
) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT 1 AS one FROM staff WHERE id = ?1 AND organisation_id = ?2 AND role = 'pedagogical'",
        params![staff.to_string(), org.to_string()],
        |r| r.get::<_, i64>("one"),
    )?
    .is_some())
}

/// The organisation's groups with their staff, weekdays and exceptions
/// (from `since` on).
pub fn org_rosters(
    c: &Connection,
    org: &OrganisationId,
    since: NaiveDate,
) -> Result<Vec<GroupRoster>, DbError> {
    let groups = query_all(
        c,
        "SELECT g.id, g.name, g.kind, g.max_children FROM groups g JOIN locations l ON l.id = g.location_id
         WHERE l.organisation_id = ?1 ORDER BY g.name, g.id",
        params![org.to_string()],
        |r| {
            Ok((
                r.id::<GroupId>("id")?,
                r.get::<_, String>("name")?,
                r.get::<_, String>("kind")? == "bso",
                r.get::<_, Option<i64>>("max_children")?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for (group, name, bso, max) in groups {
        let g = group.to_string();
        let staff = query_all(
            c,
            "SELECT s.id, s.name FROM staff_groups sg JOIN staff s ON s.id = sg.staff_id
             WHERE sg.group_id = ?1 AND s.role = 'pedagogical' ORDER BY s.name, s.id",
            params![g.clone()],
            |r| Ok((r.id::<StaffId>("id")?, r.get::<_, String>("name")?)),
        )?;
        let mut rows = Vec::new();
        for (id, sname) in staff {
            let days: Vec<Weekday> = query_all(
                c,
                "SELECT weekday FROM roster_weeks WHERE group_id = ?1 AND staff_id = ?2",
                params![g.clone(), id.to_string()],
                |r| r.get::<_, String>("weekday"),
            )?
            .iter()
            .flat_map(|d| parse_days(d))
            .collect();
            rows.push(RosterStaff {
                id,
                name: sname,
                days,
            });
        }
        let exceptions = query_all(
            c,
            "SELECT x.id, x.staff_id, s.name, x.day, x.kind FROM roster_exceptions x
             JOIN staff s ON s.id = x.staff_id
             WHERE x.group_id = ?1 AND x.day >= ?2 ORDER BY x.day, s.name, x.id",
            params![g.clone(), since.to_string()],
            |r| {
                Ok(RosterException {
                    id: r.get("id")?,
                    staff: r.id("staff_id")?,
                    staff_name: r.get("name")?,
                    day: r.date("day")?,
                    off: r.get::<_, String>("kind")? == "off",
                })
            },
        )?;
        out.push(GroupRoster {
            group,
            name,
            bso,
            max_children: max.and_then(|m| u32::try_from(m).ok()),
            staff: rows,
            exceptions,
        });
    }
    Ok(out)
}

/// Replaces the group's weekly pattern; only staff linked to the group are
/// kept. None when the group is not the organisation's.
pub fn set_roster_week(
    c: &Connection,
    org: &OrganisationId,
    group: &GroupId,
    week: &[(StaffId, Vec<Weekday>)],
) -> Result<Option<()>, DbError> {
    if !group_in_org(c, org, group)? {
        return Ok(None);
    }
    let g = group.to_string();
    c.execute(
        "DELETE FROM roster_weeks WHERE group_id = ?1",
        params![g.clone()],
    )?;
    for (staff, days) in week {
        let linked = query_one(
            c,
            "SELECT 1 AS one FROM staff_groups sg JOIN staff s ON s.id = sg.staff_id
             WHERE sg.group_id = ?1 AND sg.staff_id = ?2 AND s.role = 'pedagogical'",
            params![g.clone(), staff.to_string()],
            |r| r.get::<_, i64>("one"),
        )?;
        if linked.is_none() {
            continue;
        }
        let mut seen = Vec::new();
        for d in days {
            if seen.contains(d) {
                continue;
            }
            seen.push(*d);
            c.execute(
                "INSERT INTO roster_weeks (group_id, staff_id, weekday) VALUES (?1, ?2, ?3)",
                params![g.clone(), staff.to_string(), days_str(&[*d])],
            )?;
        }
    }
    Ok(Some(()))
}

/// Records that `staff` is off (`off`) or works extra on `group` on `day`;
/// the same staff member and day again replaces it. None when the group is
/// not the organisation's.
pub fn add_roster_exception(
    c: &Connection,
    org: &OrganisationId,
    group: &GroupId,
    staff: &StaffId,
    day: NaiveDate,
    off: bool,
) -> Result<Option<Result<(), RosterRefusal>>, DbError> {
    if !group_in_org(c, org, group)? {
        return Ok(None);
    }
    if !pedagogical_in_org(c, org, staff)? {
        return Ok(Some(Err(RosterRefusal::NotStaff)));
    }
    c.execute(
        "INSERT INTO roster_exceptions (id, group_id, staff_id, day, kind) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (group_id, staff_id, day) DO UPDATE SET kind = excluded.kind",
        params![
            uuid::Uuid::now_v7().to_string(),
            group.to_string(),
            staff.to_string(),
            day.to_string(),
            if off { "off" } else { "extra" }
        ],
    )?;
    Ok(Some(Ok(())))
}

/// Removes an exception of one of the organisation's groups; None when there is none.
pub fn remove_roster_exception(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
) -> Result<Option<()>, DbError> {
    let n = c.execute(
        "DELETE FROM roster_exceptions WHERE id = ?1 AND group_id IN
           (SELECT g.id FROM groups g JOIN locations l ON l.id = g.location_id WHERE l.organisation_id = ?2)",
        params![id, org.to_string()],
    )?;
    Ok((n > 0).then_some(()))
}

/// The staff planned on `group` on `day` by its roster; None when the group
/// has no roster at all (no weekday and no exception).
pub fn rostered_staff(
    c: &Connection,
    group: &GroupId,
    day: NaiveDate,
) -> Result<Option<u32>, DbError> {
    let g = group.to_string();
    let any = query_one(
        c,
        "SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM roster_weeks WHERE group_id = ?1)
            OR EXISTS (SELECT 1 FROM roster_exceptions WHERE group_id = ?1)",
        params![g.clone()],
        |r| r.get::<_, i64>("one"),
    )?;
    if any.is_none() {
        return Ok(None);
    }
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM staff s WHERE s.role = 'pedagogical' AND (
           (EXISTS (SELECT 1 FROM roster_weeks w WHERE w.group_id = ?1 AND w.staff_id = s.id AND w.weekday = ?3)
            AND NOT EXISTS (SELECT 1 FROM roster_exceptions x WHERE x.group_id = ?1 AND x.staff_id = s.id
                            AND x.day = ?2 AND x.kind = 'off'))
           OR EXISTS (SELECT 1 FROM roster_exceptions x WHERE x.group_id = ?1 AND x.staff_id = s.id
                      AND x.day = ?2 AND x.kind = 'extra'))",
        params![g, day.to_string(), days_str(&[weekday_of(day)])],
        |r| r.get(0),
    )?;
    Ok(Some(u32::try_from(n).unwrap_or(0)))
}

// ---- closed days and the group maximum

/// The closed days of the organisation's locations, by date.
pub fn org_closed_days(c: &Connection, org: &OrganisationId) -> Result<Vec<ClosedDay>, DbError> {
    query_all(
        c,
        "SELECT cd.location_id, l.name, cd.day, cd.name AS reason FROM closed_days cd
         JOIN locations l ON l.id = cd.location_id
         WHERE l.organisation_id = ?1 ORDER BY cd.day, l.name",
        params![org.to_string()],
        |r| {
            Ok(ClosedDay {
                location: r.id("location_id")?,
                location_name: r.get("name")?,
                day: r.date("day")?,
                name: r.get("reason")?,
            })
        },
    )
}

fn location_in_org(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT 1 AS one FROM locations WHERE id = ?1 AND organisation_id = ?2",
        params![location.to_string(), org.to_string()],
        |r| r.get::<_, i64>("one"),
    )?
    .is_some())
}

/// Closes the location from `from` to `to` (both included); a day already
/// closed is renamed. The number of days; None when not the organisation's.
pub fn add_closed_days(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
    from: NaiveDate,
    to: NaiveDate,
    name: &str,
) -> Result<Option<u32>, DbError> {
    if !location_in_org(c, org, location)? {
        return Ok(None);
    }
    let mut n = 0;
    for d in from.iter_days().take_while(|d| *d <= to) {
        c.execute(
            "INSERT INTO closed_days (location_id, day, name) VALUES (?1, ?2, ?3)
             ON CONFLICT (location_id, day) DO UPDATE SET name = excluded.name",
            params![location.to_string(), d.to_string(), name],
        )?;
        n += 1;
    }
    Ok(Some(n))
}

/// Opens a closed day again; None when there was none of the organisation.
pub fn remove_closed_day(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
    day: NaiveDate,
) -> Result<Option<()>, DbError> {
    if !location_in_org(c, org, location)? {
        return Ok(None);
    }
    let n = c.execute(
        "DELETE FROM closed_days WHERE location_id = ?1 AND day = ?2",
        params![location.to_string(), day.to_string()],
    )?;
    Ok((n > 0).then_some(()))
}

/// Sets (or with None clears) the group's maximum; None when not the organisation's.
pub fn set_max_children(
    c: &Connection,
    org: &OrganisationId,
    group: &GroupId,
    max: Option<u32>,
) -> Result<Option<()>, DbError> {
    if !group_in_org(c, org, group)? {
        return Ok(None);
    }
    c.execute(
        "UPDATE groups SET max_children = ?2 WHERE id = ?1",
        params![group.to_string(), max.map(i64::from)],
    )?;
    Ok(Some(()))
}

// ---- vacation hours (BSO)

fn year_span(year: i32) -> (String, String) {
    (format!("{year:04}-01-01"), format!("{year:04}-12-31"))
}

/// The child's vacation hours of `year`: given, taken, promised.
pub fn vacation_year(c: &Connection, child: &ChildId, year: i32) -> Result<VacationYear, DbError> {
    let hours = query_one(
        c,
        "SELECT hours FROM vacation_allowances WHERE child_id = ?1 AND year = ?2",
        params![child.to_string(), i64::from(year)],
        |r| r.get::<_, i64>("hours"),
    )?
    .unwrap_or(0);
    let (from, to) = year_span(year);
    let sum = |status: &str| -> Result<i64, DbError> {
        c.query_row(
            "SELECT CAST(COALESCE(SUM(hours), 0) AS BIGINT) FROM vacation_requests
             WHERE child_id = ?1 AND status = ?2 AND day >= ?3 AND day <= ?4",
            params![child.to_string(), status, from.clone(), to.clone()],
            |r| r.get(0),
        )
    };
    Ok(VacationYear {
        year,
        hours: u32::try_from(hours).unwrap_or(0),
        taken: u32::try_from(sum("approved")?).unwrap_or(0),
        promised: u32::try_from(sum("requested")?).unwrap_or(0),
    })
}

/// The BSO group of the child's placement covering `day`.
fn bso_placement_on(
    c: &Connection,
    child: &ChildId,
    day: NaiveDate,
) -> Result<Option<GroupId>, DbError> {
    query_one(
        c,
        "SELECT p.group_id FROM placements p JOIN groups g ON g.id = p.group_id
         WHERE p.child_id = ?1 AND g.kind = 'bso' AND p.start_date <= ?2
           AND (p.end_date IS NULL OR p.end_date >= ?2)
         ORDER BY p.start_date DESC LIMIT 1",
        params![child.to_string(), day.to_string()],
        |r| r.id::<GroupId>("group_id"),
    )
}

/// Whether the child has a BSO placement that has not ended before `today`.
fn has_bso(c: &Connection, child: &ChildId, today: NaiveDate) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT 1 AS one FROM placements p JOIN groups g ON g.id = p.group_id
         WHERE p.child_id = ?1 AND g.kind = 'bso' AND (p.end_date IS NULL OR p.end_date >= ?2)",
        params![child.to_string(), today.to_string()],
        |r| r.get::<_, i64>("one"),
    )?
    .is_some())
}

const VACATION_COLUMNS: &str = "v.id, v.child_id, c.first_name, c.birth_date, v.group_id, g.name AS group_name,
    v.day, v.part_of_day, v.hours, v.guaranteed, v.status, v.requested_by, v.decided_by, v.decided_at
    FROM vacation_requests v JOIN children c ON c.id = v.child_id JOIN groups g ON g.id = v.group_id";

fn vacation_row(r: &Row) -> Result<VacationRequestView, DbError> {
    let status: String = r.get("status")?;
    Ok(VacationRequestView {
        id: r.get("id")?,
        child: r.id("child_id")?,
        child_name: r.get("first_name")?,
        birth_date: r.date("birth_date")?,
        group: r.id("group_id")?,
        group_name: r.get("group_name")?,
        day: r.date("day")?,
        part_of_day: match r.get::<_, String>("part_of_day")?.as_str() {
            "morning" => PartOfDay::Morning,
            "afternoon" => PartOfDay::Afternoon,
            _ => PartOfDay::WholeDay,
        },
        hours: u32::try_from(r.get::<_, i64>("hours")?).unwrap_or(0),
        guaranteed: r.get::<_, i64>("guaranteed")? != 0,
        status: RequestStatus::parse(&status).ok_or(DbError::Corrupt {
            column: "vacation_requests.status",
            value: status,
        })?,
        requested_by: r.get("requested_by")?,
        decided_by: r.get("decided_by")?,
        decided_at: r.opt_time("decided_at")?,
    })
}

/// The child's vacation hours (this year and the next) and its requests.
pub fn child_vacation(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
) -> Result<ChildVacation, DbError> {
    let bso = has_bso(c, child, today)?;
    let years = vec![
        vacation_year(c, child, today.year())?,
        vacation_year(c, child, today.year() + 1)?,
    ];
    let requests = query_all(
        c,
        &format!(
            "SELECT {VACATION_COLUMNS} WHERE v.child_id = ?1 ORDER BY v.day DESC, v.id LIMIT 200"
        ),
        params![child.to_string()],
        vacation_row,
    )?;
    Ok(ChildVacation {
        bso,
        years,
        requests,
    })
}

/// A parent asks for vacation care. A month or more ahead it is approved at
/// once (hours taken); later it waits for the manager (hours promised).
/// None when not the parent's child.
pub fn request_vacation(
    c: &Connection,
    parent: &ParentId,
    req: &NewVacationRequest,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<VacationOutcome>, DbError> {
    if super::portal::my_child(c, parent, &req.child, today)?.is_none() {
        return Ok(None);
    }
    let Some(org) = child_org(c, &req.child)? else {
        return Ok(None);
    };
    c.lock_row("children", &req.child.to_string())?;
    let refuse = |r| Ok(Some(Err(r)));
    if req.day <= today {
        return refuse(VacationRefusal::NotAfterToday);
    }
    let Some(group) = bso_placement_on(c, &req.child, req.day)? else {
        return refuse(VacationRefusal::NotBso);
    };
    let rules = rules(c, &org)?;
    let closed = closed_dates(c, &group, req.day, req.day)?;
    if !rules.is_working_day(req.day, &closed) {
        return refuse(VacationRefusal::Closed);
    }
    let open = query_one(
        c,
        "SELECT 1 AS one FROM vacation_requests WHERE child_id = ?1 AND day = ?2 AND status <> 'refused'",
        params![req.child.to_string(), req.day.to_string()],
        |r| r.get::<_, i64>("one"),
    )?;
    if open.is_some() {
        return refuse(VacationRefusal::AlreadyRequested);
    }
    let needed = rules.vacation_hours.of(req.part_of_day);
    let year = vacation_year(c, &req.child, req.day.year())?;
    if year.left() < needed {
        return refuse(VacationRefusal::NotEnoughHours {
            year: year.year,
            left: year.left(),
            needed,
        });
    }
    let guaranteed = vacation_guaranteed(today, req.day);
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO vacation_requests (id, child_id, group_id, day, part_of_day, hours, guaranteed, status,
           requested_by, requested_at, decided_by, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id.clone(),
            req.child.to_string(),
            group.to_string(),
            req.day.to_string(),
            match req.part_of_day {
                PartOfDay::Morning => "morning",
                PartOfDay::Afternoon => "afternoon",
                PartOfDay::WholeDay => "whole_day",
            },
            i64::from(needed),
            i64::from(guaranteed),
            if guaranteed { "approved" } else { "requested" },
            req.requested_by.clone(),
            time_str(now),
            guaranteed.then(|| "gegarandeerd (een maand vooruit)".to_string()),
            guaranteed.then(|| time_str(now))
        ],
    )?;
    let mut changed = Vec::new();
    if guaranteed {
        changed.push(group_change(c, &group, EntityKind::Child, &req.child.0)?);
    }
    Ok(Some(Ok((id, guaranteed, changed))))
}

/// The organisation's vacation requests: waiting ones, and decided ones
/// from 60 days ago on.
pub fn vacation_requests_for_org(
    c: &Connection,
    org: &OrganisationId,
    today: NaiveDate,
) -> Result<Vec<VacationRequestView>, DbError> {
    query_all(
        c,
        &format!(
            "SELECT {VACATION_COLUMNS} WHERE c.organisation_id = ?1
               AND (v.status = 'requested' OR v.day >= ?2)
             ORDER BY CASE WHEN v.status = 'requested' THEN 0 ELSE 1 END, v.day, v.id LIMIT 300"
        ),
        params![org.to_string(), (today - Duration::days(60)).to_string()],
        vacation_row,
    )
}

/// One vacation request of the organisation.
pub fn vacation_request_of_org(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
) -> Result<Option<VacationRequestView>, DbError> {
    query_one(
        c,
        &format!("SELECT {VACATION_COLUMNS} WHERE v.id = ?1 AND c.organisation_id = ?2"),
        params![id, org.to_string()],
        vacation_row,
    )
}

/// The manager approves (the promised hours are taken) or refuses (they are
/// given back) a waiting vacation request. None when not the organisation's.
pub fn decide_vacation(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
    approve: bool,
    by: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Result<Changed, VacationRefusal>>, DbError> {
    let Some(req) = vacation_request_of_org(c, org, id)? else {
        return Ok(None);
    };
    c.lock_row("children", &req.child.to_string())?;
    let Some(req) = vacation_request_of_org(c, org, id)? else {
        return Ok(None);
    };
    if req.status != RequestStatus::Requested {
        return Ok(Some(Err(VacationRefusal::AlreadyDecided)));
    }
    let mut changed = Vec::new();
    if approve {
        if req.day < today {
            return Ok(Some(Err(VacationRefusal::Past)));
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
        "UPDATE vacation_requests SET status = ?2, decided_by = ?3, decided_at = ?4
         WHERE id = ?1 AND status = 'requested'",
        params![id, status.as_str(), by, time_str(now)],
    )?;
    Ok(Some(Ok(changed)))
}

/// The organisation's BSO children (a placement not ended before `today`)
/// with their hours of this year and the next.
pub fn bso_children(
    c: &Connection,
    org: &OrganisationId,
    today: NaiveDate,
) -> Result<Vec<BsoChild>, DbError> {
    let kids = query_all(
        c,
        "SELECT DISTINCT c.id, c.first_name, c.last_name, g.name AS group_name FROM children c
         JOIN placements p ON p.child_id = c.id JOIN groups g ON g.id = p.group_id
         WHERE c.organisation_id = ?1 AND g.kind = 'bso' AND (p.end_date IS NULL OR p.end_date >= ?2)
         ORDER BY c.first_name, c.last_name, c.id",
        params![org.to_string(), today.to_string()],
        |r| {
            Ok((
                r.id::<ChildId>("id")?,
                format!(
                    "{} {}",
                    r.get::<_, String>("first_name")?,
                    r.get::<_, String>("last_name")?
                ),
                r.get::<_, String>("group_name")?,
            ))
        },
    )?;
    let mut out: Vec<BsoChild> = Vec::new();
    for (child, name, group) in kids {
        if let Some(k) = out.iter_mut().find(|k| k.child == child) {
            k.groups.push_str(&format!(", {group}"));
            continue;
        }
        out.push(BsoChild {
            child,
            name,
            groups: group,
            years: vec![
                vacation_year(c, &child, today.year())?,
                vacation_year(c, &child, today.year() + 1)?,
            ],
        });
    }
    Ok(out)
}

/// Sets a child's vacation hours for `year`; None when not the
/// organisation's child.
pub fn set_vacation_allowance(
    c: &Connection,
    org: &OrganisationId,
    child: &ChildId,
    year: i32,
    hours: u32,
) -> Result<Option<()>, DbError> {
    if child_org(c, child)?.as_ref() != Some(org) {
        return Ok(None);
    }
    c.execute(
        "INSERT INTO vacation_allowances (child_id, year, hours) VALUES (?1, ?2, ?3)
         ON CONFLICT (child_id, year) DO UPDATE SET hours = excluded.hours",
        params![child.to_string(), i64::from(year), i64::from(hours)],
    )?;
    Ok(Some(()))
}

/// Who is told about a decision on a request for `child`: the
/// organisation's slug (for the portal link) and the child's parents.
pub fn decision_recipients(
    c: &Connection,
    child: &ChildId,
) -> Result<Option<(String, Vec<crate::portal::notify::Recipient>)>, DbError> {
    let Some(slug) = query_one(
        c,
        "SELECT o.slug FROM children c JOIN organisations o ON o.id = c.organisation_id WHERE c.id = ?1",
        params![child.to_string()],
        |r| r.get::<_, String>("slug"),
    )?
    else {
        return Ok(None);
    };
    let parents = query_all(
        c,
        "SELECT p.id, p.name, p.email, p.language FROM parents p JOIN child_parents cp ON cp.parent_id = p.id
         WHERE cp.child_id = ?1 ORDER BY cp.role, p.name",
        params![child.to_string()],
        |r| {
            Ok(crate::portal::notify::Recipient {
                parent: r.id("id")?,
                name: r.get("name")?,
                email: r.get("email")?,
                lang: super::notify::language_of(r)?,
            })
        },
    )?;
    Ok(Some((slug, parents)))
}
