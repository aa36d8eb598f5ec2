//! The organisation under load, written through the store before the server
//! starts: groups in locations of ten, children with consent `group`, a staff
//! member and parents per group, and the enrolled devices.

use crate::LoadError;
use crate::config::Config;
use chrono::{Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use kring_protocol::{
    Calendar, ChildId, DeviceId, GroupId, ParentId, PhotoConsent, StaffId, StaffRole, Weekday,
};
use kring_server::org::{GroupKind, ParentRole};
use kring_server::store::{ChildDetails, NewPlacement, NewStaff, Store, StoreError};
use std::sync::Arc;

/// The organisation's portal slug: `load.localhost`.
pub const SLUG: &str = "load";
/// Every parent's password.
pub const PARENT_PASSWORD: &str = "kring-load-wachtwoord";
/// Groups per location.
const GROUPS_PER_LOCATION: usize = 10;
/// Store writes at once (Argon2 hashes of PINs and passwords take tens of ms each).
const CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct GroupSeed {
    pub id: GroupId,
    pub children: Vec<ChildId>,
    pub staff: StaffId,
    /// Indices into [`Seeded::devices`].
    pub devices: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct DeviceSeed {
    pub id: DeviceId,
    pub secret: String,
    /// Index into [`Seeded::groups`].
    pub group: usize,
}

#[derive(Debug, Clone)]
pub struct ParentSeed {
    pub email: String,
    pub password: String,
    pub group: usize,
    pub children: Vec<ChildId>,
}

#[derive(Debug, Clone)]
pub struct Seeded {
    pub groups: Vec<GroupSeed>,
    pub devices: Vec<DeviceSeed>,
    pub parents: Vec<ParentSeed>,
}

/// Writes the organisation; `store` is dropped by the caller before the server starts.
pub async fn seed(store: Arc<dyn Store>, config: &Config) -> Result<Seeded, LoadError> {
    let now = Utc::now();
    let today = Calendar::default().today(now);
    let org = store
        .create_organisation(SLUG.into(), "Kring Load Opvang".into())
        .await?;
    let n_groups = config.groups();
    let mut locations = Vec::new();
    for l in 0..n_groups.div_ceil(GROUPS_PER_LOCATION) {
        locations.push(store.create_location(org, format!("Locatie {l}")).await?);
    }
    let all_days = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let cpg = config.children_per_group as usize;

    // groups with their children and a staff member
    let groups: Vec<GroupSeed> = futures::stream::iter(0..n_groups)
        .map(|g| {
            let store = store.clone();
            let location = locations[g / GROUPS_PER_LOCATION];
            let days = all_days.clone();
            async move {
                let id = store
                    .create_group(location, format!("Groep {g}"), GroupKind::Kdv, (0, 4))
                    .await?;
                let mut children = Vec::with_capacity(cpg);
                for c in 0..cpg {
                    let child = store
                        .create_child(
                            org,
                            ChildDetails {
                                first_name: format!("Kind{c}"),
                                last_name: format!("Groep{g}"),
                                birth_date: today - Duration::days(700 + c as i64 * 30),
                                consent: PhotoConsent::Group,
                                allergies: None,
                                notes: None,
                            },
                        )
                        .await?;
                    store
                        .place_child(NewPlacement {
                            child,
                            group: id,
                            days: days.clone(),
                            start: today - Duration::days(100),
                            end: None,
                        })
                        .await?;
                    children.push(child);
                }
                let staff = store
                    .create_staff(NewStaff {
                        org,
                        name: format!("Leidster {g}"),
                        role: StaffRole::Pedagogical,
                        pin: "1234".into(),
                        groups: vec![id],
                    })
                    .await?
                    .id;
                Ok::<_, StoreError>(GroupSeed {
                    id,
                    children,
                    staff,
                    devices: Vec::new(),
                })
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    tracing::info!(groups = groups.len(), "groups seeded");

    // parents: parent p of a group has the children c with c % ppg == p
    // (or child p % cpg when there are more parents than children)
    let ppg = config.parents_per_group as usize;
    let mut plan = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let mut has_first = vec![false; cpg];
        for p in 0..ppg {
            let mut kids: Vec<usize> = (0..cpg).filter(|c| c % ppg == p).collect();
            if kids.is_empty() {
                kids.push(p % cpg);
            }
            let links: Vec<(ChildId, ParentRole)> = kids
                .iter()
                .map(|&c| {
                    let role = if has_first[c] {
                        ParentRole::Second
                    } else {
                        ParentRole::First
                    };
                    has_first[c] = true;
                    (group.children[c], role)
                })
                .collect();
            plan.push((g, p, links));
        }
    }
    let parents: Vec<ParentSeed> = futures::stream::iter(plan)
        .map(|(g, p, links)| {
            let store = store.clone();
            async move {
                let email = format!("ouder{g}-{p}@load.example");
                let id: ParentId = store
                    .create_parent(
                        org,
                        email.clone(),
                        format!("Ouder {g}-{p}"),
                        PARENT_PASSWORD.into(),
                    )
                    .await?;
                store.set_must_change_password(id, false).await?;
                for (child, role) in &links {
                    store.link_parent(*child, id, *role).await?;
                }
                Ok::<_, StoreError>(ParentSeed {
                    email,
                    password: PARENT_PASSWORD.into(),
                    group: g,
                    children: links.iter().map(|(c, _)| *c).collect(),
                })
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    tracing::info!(parents = parents.len(), "parents seeded");

    // devices: device d is on group d / devices_per_group
    let dpg = config.devices_per_group as usize;
    let devices: Vec<DeviceSeed> = futures::stream::iter(0..config.devices as usize)
        .map(|d| {
            let store = store.clone();
            let group = d / dpg;
            let group_id = groups[group].id;
            async move {
                let code = store
                    .create_enrollment_code(group_id, Utc::now(), Duration::minutes(15))
                    .await?;
                let enrolled = store
                    .enroll_device(
                        code.code,
                        format!("Scherm {d}"),
                        crate::APP_VERSION.into(),
                        Utc::now(),
                    )
                    .await?;
                Ok::<_, StoreError>(DeviceSeed {
                    id: enrolled.id,
                    secret: enrolled.secret,
                    group,
                })
            }
        })
        .buffered(CONCURRENCY * 2)
        .try_collect()
        .await?;
    tracing::info!(devices = devices.len(), "devices enrolled");
    let mut groups = groups;
    for (d, dev) in devices.iter().enumerate() {
        groups[dev.group].devices.push(d);
    }
    Ok(Seeded {
        groups,
        devices,
        parents,
    })
}
