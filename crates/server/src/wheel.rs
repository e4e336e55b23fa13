//! A per-core hashed timing wheel with one-second resolution: one timer for the whole thread
//! (the worker's 1 s tick), whatever the number of connections.
//!
//! Entries are filed lazily. A connection records in `filed` the second its live entry is due;
//! pushing its deadline later costs nothing (when the entry comes due it is re-filed at the new
//! deadline), pulling it earlier files a second entry and the first one is recognised as stale
//! (its `at` no longer equals `filed`) and dropped. A tick therefore touches only the entries due
//! in the seconds that passed, never every connection.

/// Slots; deadlines further out than this many seconds wait whole turns in their slot.
const SLOTS: usize = 128;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: u32,
    pub generation: u16,
    pub at: u32,
}

pub struct Wheel {
    slots: Vec<Vec<Entry>>,
    /// The last second processed by `advance`.
    done: u32,
}

impl Wheel {
    pub fn new(now: u32) -> Wheel {
        Wheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            done: now,
        }
    }

    pub fn file(&mut self, e: Entry) {
        // Never file in the past: a due entry goes to the next second processed.
        let at = e.at.max(self.done + 1);
        self.slots[at as usize % SLOTS].push(Entry { at, ..e });
    }

    /// Hand every entry due at or before `now` to `due` (in no particular order), once.
    /// `due` decides whether the entry is still meaningful (and may file new ones afterwards:
    /// collect first, act after, as the borrow requires).
    pub fn advance(&mut self, now: u32, mut due: impl FnMut(Entry)) {
        // After a long stall, one full turn covers every slot.
        let from = self.done + 1;
        let to = now.min(self.done.saturating_add(SLOTS as u32));
        for t in from..=to {
            // In place: each slot keeps the capacity its busiest second needed, so a steady
            // load files entries without allocating.
            self.slots[t as usize % SLOTS].retain(|&e| {
                if e.at <= now {
                    due(e);
                    false
                } else {
                    true // a later turn
                }
            });
        }
        if now > self.done {
            self.done = now;
        }
    }

    /// Entries filed (live and stale), for tests and reports.
    pub fn len(&self) -> usize {
        self.slots.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due_at(w: &mut Wheel, now: u32) -> Vec<u32> {
        let mut v = Vec::new();
        w.advance(now, |e| v.push(e.key));
        v.sort_unstable();
        v
    }

    #[test]
    fn fires_once_at_or_after_the_deadline() {
        let mut w = Wheel::new(100);
        w.file(Entry {
            key: 1,
            generation: 0,
            at: 101,
        });
        w.file(Entry {
            key: 2,
            generation: 0,
            at: 105,
        });
        w.file(Entry {
            key: 3,
            generation: 0,
            at: 100 + SLOTS as u32 + 5,
        }); // a later turn
        w.file(Entry {
            key: 4,
            generation: 0,
            at: 50,
        }); // already past: next second
        assert_eq!(due_at(&mut w, 101), vec![1, 4]);
        assert_eq!(due_at(&mut w, 104), Vec::<u32>::new());
        assert_eq!(due_at(&mut w, 110), vec![2]); // skipped seconds are caught up
        assert_eq!(due_at(&mut w, 200), Vec::<u32>::new());
        assert_eq!(due_at(&mut w, 100 + SLOTS as u32 + 5), vec![3]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn long_stall_catches_everything() {
        let mut w = Wheel::new(0);
        for k in 0..1000 {
            w.file(Entry {
                key: k,
                generation: 0,
                at: 1 + k % 300,
            });
        }
        assert_eq!(due_at(&mut w, 10_000).len(), 1000);
        assert_eq!(w.len(), 0);
    }
}
