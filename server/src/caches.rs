//! In-memory copies of the rows the add-in's hot path reads — employees by Entra identity and
//! settings documents — so a lookup costs no database round trip.
//!
//! The store announces every committed change to those tables, from this or any instance
//! (`store::Changed`); [`run_listener`] forgets the copies at once, and with them the recent
//! picks and validated tokens that depend on them. While the announcements are not being
//! received (start-up, a lost PostgreSQL connection) the copies are not used at all.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use parking_lot::RwLock;

use crate::store::{Changed, Employee, Store, StoreResult};

/// The copies, shared through `AppState`.
#[derive(Debug, Default)]
pub struct Caches {
    /// Whether announcements are being received, i.e. the copies can be trusted.
    live: AtomicBool,
    /// Bumped by every forget; a load that began before it is not kept.
    generation: AtomicU64,
    /// By tenant id, then object id.
    employees: RwLock<HashMap<String, HashMap<String, Arc<Employee>>>>,
    settings: RwLock<HashMap<String, Option<Arc<str>>>>,
}

impl Caches {
    /// Marks whether the store's change announcements are being received: while not, the copies
    /// are bypassed.
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    /// Whether the copies are in use (the store's change announcements are being received).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The employee bound to Entra tenant `tid` and object id `oid`.
    pub async fn employee_by_entra(
        &self,
        store: &dyn Store,
        tid: &str,
        oid: &str,
    ) -> StoreResult<Option<Arc<Employee>>> {
        if self.live.load(Ordering::Acquire)
            && let Some(employee) = self
                .employees
                .read()
                .get(tid)
                .and_then(|by_oid| by_oid.get(oid))
        {
            return Ok(Some(employee.clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(employee) = store.employee_by_entra(tid, oid).await? else {
            return Ok(None);
        };
        let employee = Arc::new(employee);
        let mut employees = self.employees.write();
        if self.unchanged_since(generation) {
            employees
                .entry(tid.to_owned())
                .or_default()
                .insert(oid.to_owned(), employee.clone());
        }
        Ok(Some(employee))
    }

    /// The JSON text of setting `key`, if saved.
    pub async fn setting(&self, store: &dyn Store, key: &str) -> StoreResult<Option<Arc<str>>> {
        if self.live.load(Ordering::Acquire)
            && let Some(value) = self.settings.read().get(key)
        {
            return Ok(value.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let value: Option<Arc<str>> = store.get_setting(key).await?.map(Into::into);
        let mut settings = self.settings.write();
        if self.unchanged_since(generation) {
            settings.insert(key.to_owned(), value.clone());
        }
        Ok(value)
    }

    /// Whether nothing was forgotten since `generation` was read. Call it holding the write lock
    /// of the map to insert into: a forget takes every such lock before it bumps the generation,
    /// so a copy read before a change is never kept after it.
    fn unchanged_since(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
    }

    /// Forgets the copies of `change`'s table.
    pub fn forget(&self, change: &Changed) {
        let mut employees = self.employees.write();
        let mut settings = self.settings.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            Changed::Employees => employees.clear(),
            Changed::Settings => settings.clear(),
            Changed::Picks(_) => {}
            Changed::Everything => {
                employees.clear();
                settings.clear();
            }
        }
    }
}
