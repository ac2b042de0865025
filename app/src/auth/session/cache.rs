//! Sessions read in the last moment, kept decoded in this instance's memory
//! so that a burst of page views and server-function calls costs one store
//! read, not one each.
//!
//! The bound is the point: an entry is served for at most `ttl` after the
//! read that produced it began. A logout, a refresh or a provider event on
//! another instance therefore takes effect here within `ttl` (at most one
//! second). On this instance it takes effect at once: every write through
//! [`Sessions`](super::Sessions) forgets what it touched, and a read that
//! raced a write is not remembered (the `epoch` check).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tower_sessions::session::Id;

/// Entries kept at most; a full map first drops what has expired, and
/// starts over if that is not enough. Each entry lives a second at most, so
/// only a flood of distinct sessions reaches this.
const CAPACITY: usize = 10_000;

/// The longest bound allowed: what other instances may lag behind.
pub const MAX_TTL: Duration = Duration::from_secs(1);

pub(crate) struct SessionCache<T> {
    ttl: Duration,
    epoch: AtomicU64,
    entries: Mutex<HashMap<Id, (Instant, Arc<T>)>>,
}

/// Taken before a store read: what [`SessionCache::remember`] needs to know that
/// nothing was written meanwhile, and when the read began.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    read_at: Instant,
}

impl<T> SessionCache<T> {
    /// Remembers for `ttl` (capped at [`MAX_TTL`]); zero turns it off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: ttl.min(MAX_TTL),
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn ticket(&self) -> Ticket {
        Ticket {
            epoch: self.epoch.load(Ordering::Acquire),
            read_at: Instant::now(),
        }
    }

    /// What a read begun less than `ttl` ago found, if nothing has been
    /// written here since.
    pub fn get(&self, id: &Id) -> Option<Arc<T>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (read_at, value) = entries.get(id)?;
        (read_at.elapsed() < self.ttl).then(|| Arc::clone(value))
    }

    /// Keeps what a read found, unless a write happened since its ticket.
    pub fn remember(&self, ticket: Ticket, id: Id, value: Arc<T>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Compared under the lock that `forget` bumps it under: a write that
        // finished before this line is seen here.
        if self.epoch.load(Ordering::Acquire) != ticket.epoch {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, (read_at, _)| read_at.elapsed() < self.ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(id, (ticket.read_at, value));
    }

    /// Forgets session `id` when the guard is dropped: once the write it
    /// guards has completed, or been abandoned half-way (the request went
    /// away), so that no outcome of the write is missed.
    pub fn forgetting(&self, id: Id) -> Forget<'_, T> {
        Forget {
            cache: self,
            id: Some(id),
        }
    }

    /// The same for a write that may end any number of sessions.
    pub fn forgetting_all(&self) -> Forget<'_, T> {
        Forget {
            cache: self,
            id: None,
        }
    }

    /// Session `id` was written or ended here.
    pub fn forget(&self, id: &Id) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(id);
    }

    /// Sessions were ended in bulk (every session of a user).
    pub fn forget_all(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// See [`SessionCache::forgetting`].
pub(crate) struct Forget<'a, T> {
    cache: &'a SessionCache<T>,
    id: Option<Id>,
}

impl<T> Drop for Forget<'_, T> {
    fn drop(&mut self) {
        match &self.id {
            Some(id) => self.cache.forget(id),
            None => self.cache.forget_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i128) -> Id {
        Id(n)
    }

    #[test]
    fn an_entry_is_served_for_less_than_its_ttl_after_the_read_began() {
        let cache = SessionCache::new(MAX_TTL);
        let ticket = cache.ticket();
        cache.remember(ticket, id(1), Arc::new("ada"));
        assert_eq!(cache.get(&id(1)).as_deref(), Some(&"ada"));
        // Waiting for the condition the bound promises: gone once `ttl`
        // has passed since the read began, however the test is scheduled.
        while ticket.read_at.elapsed() < MAX_TTL {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(cache.get(&id(1)), None);
    }

    #[test]
    fn a_write_forgets_and_a_read_that_raced_it_is_not_remembered() {
        let cache = SessionCache::new(MAX_TTL);
        cache.remember(cache.ticket(), id(1), Arc::new("before logout"));
        let racing_read = cache.ticket();
        cache.forget(&id(1));
        assert_eq!(cache.get(&id(1)), None);
        cache.remember(racing_read, id(1), Arc::new("before logout"));
        assert_eq!(cache.get(&id(1)), None, "read before the write");
        cache.remember(cache.ticket(), id(1), Arc::new("after"));
        cache.forget_all();
        assert_eq!(cache.get(&id(1)), None);
    }

    #[test]
    fn an_abandoned_write_still_forgets() {
        let cache = SessionCache::new(MAX_TTL);
        cache.remember(cache.ticket(), id(1), Arc::new("before"));
        let racing_read = cache.ticket();
        {
            let _write = cache.forgetting(id(1));
            // The write's future is dropped here, its outcome unknown.
        }
        assert_eq!(cache.get(&id(1)), None);
        cache.remember(racing_read, id(1), Arc::new("before"));
        assert_eq!(cache.get(&id(1)), None);
    }

    #[test]
    fn the_bound_is_at_most_a_second_and_zero_turns_it_off() {
        let long = SessionCache::<&str>::new(Duration::from_secs(60));
        assert_eq!(long.ttl, MAX_TTL);
        let off = SessionCache::new(Duration::ZERO);
        off.remember(off.ticket(), id(1), Arc::new("x"));
        assert_eq!(off.get(&id(1)), None);
    }

    #[test]
    fn a_flood_of_sessions_stays_bounded() {
        let cache = SessionCache::new(MAX_TTL);
        for n in 0..(CAPACITY as i128 + 10) {
            cache.remember(cache.ticket(), id(n), Arc::new(n));
        }
        let kept = cache.entries.lock().map(|entries| entries.len());
        assert!(kept.is_ok_and(|kept| kept <= CAPACITY));
    }
}
