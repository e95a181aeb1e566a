//! The one way the runtime takes a lock: poisoning is not an error here.
//!
//! A host function that panics ends only its process (the runner catches the panic, design
//! rule 5), so a lock it held is poisoned while the data behind it is still what the other
//! processes need: the table, a queue, a counter. Every lock of the runtime is therefore taken
//! through [`Locked`], which hands out the guard whether or not a panic happened while it was
//! held. Code that holds a lock keeps its data consistent at every point where it could
//! panic, as it must anyway.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Take a lock, poisoned or not.
pub(crate) trait Locked<T: ?Sized> {
    /// The guard, even if a panic poisoned the lock.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for Mutex<T> {
    #[inline]
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Take a read or write lock, poisoned or not.
pub(crate) trait ReadWriteLocked<T: ?Sized> {
    /// The read guard, even if a panic poisoned the lock.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// The write guard, even if a panic poisoned the lock.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> ReadWriteLocked<T> for RwLock<T> {
    #[inline]
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *m.locked() += 1;
        assert_eq!(*m.locked(), 2);
        let rw = RwLock::new(5);
        *rw.write_locked() += 1;
        assert_eq!(*rw.read_locked(), 6);
    }
}
