//! A bounded least-recently-used cache of decoded frames, keyed by frame index.

use std::collections::{BTreeMap, HashMap};

/// LRU map from frame index to a value with a byte cost; evicts the least recently used
/// entries once the total cost would exceed the budget. A budget of 0 disables it.
#[derive(Debug)]
pub(crate) struct FrameCache<V> {
    budget: usize,
    used: usize,
    clock: u64,
    entries: HashMap<usize, (V, usize, u64)>,
    order: BTreeMap<u64, usize>,
}

impl<V> FrameCache<V> {
    pub fn new(budget: usize) -> Self {
        FrameCache {
            budget,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, idx: usize) -> Option<&V> {
        let (_, _, stamp) = self.entries.get_mut(&idx)?;
        self.order.remove(stamp);
        self.clock += 1;
        *stamp = self.clock;
        self.order.insert(self.clock, idx);
        self.entries.get(&idx).map(|e| &e.0)
    }

    pub fn contains(&self, idx: usize) -> bool {
        self.entries.contains_key(&idx)
    }

    pub fn insert(&mut self, idx: usize, value: V, cost: usize) {
        if cost > self.budget {
            return;
        }
        if let Some((_, c, stamp)) = self.entries.remove(&idx) {
            self.order.remove(&stamp);
            self.used -= c;
        }
        while self.used + cost > self.budget {
            let Some((&stamp, &old)) = self.order.iter().next() else {
                break;
            };
            self.order.remove(&stamp);
            if let Some((_, c, _)) = self.entries.remove(&old) {
                self.used -= c;
            }
        }
        self.clock += 1;
        self.order.insert(self.clock, idx);
        self.entries.insert(idx, (value, cost, self.clock));
        self.used += cost;
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn used_bytes(&self) -> usize {
        self.used
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let mut c = FrameCache::new(30);
        c.insert(1, "a", 10);
        c.insert(2, "b", 10);
        c.insert(3, "c", 10);
        assert_eq!(c.get(1), Some(&"a")); // 1 is now the most recent
        c.insert(4, "d", 10); // evicts 2
        assert!(!c.contains(2));
        assert!(c.contains(1) && c.contains(3) && c.contains(4));
        assert_eq!(c.used_bytes(), 30);
        c.insert(5, "e", 40); // larger than the budget: not stored
        assert!(!c.contains(5));
        c.insert(3, "c2", 5);
        assert_eq!(c.get(3), Some(&"c2"));
        assert_eq!(c.used_bytes(), 25);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn zero_budget_stores_nothing() {
        let mut c = FrameCache::new(0);
        c.insert(0, 1u8, 1);
        assert_eq!(c.len(), 0);
    }
}
