//! Construction options for a [`crate::Table`].

/// How a table is laid out. `Default` picks sensible values for the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// Number of partitions (rounded up to a power of two, at least 1, at most
    /// [`TableOptions::MAX_PARTITIONS`]). `None` picks a default from the
    /// number of CPUs so that writers on different cores rarely meet.
    pub partitions: Option<usize>,
    /// Entries to reserve room for up front, spread over the partitions.
    pub capacity: usize,
}

impl TableOptions {
    /// The largest partition count accepted.
    pub const MAX_PARTITIONS: usize = 1 << 16;

    /// The partition count these options resolve to: a power of two.
    pub fn resolved_partitions(&self) -> usize {
        let wanted = match self.partitions {
            Some(n) => n,
            None => {
                let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
                (cpus * 4).max(16)
            }
        };
        wanted.clamp(1, Self::MAX_PARTITIONS).next_power_of_two()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_round_to_power_of_two_and_clamp() {
        let p = |n| TableOptions { partitions: Some(n), capacity: 0 }.resolved_partitions();
        assert_eq!(p(0), 1);
        assert_eq!(p(1), 1);
        assert_eq!(p(3), 4);
        assert_eq!(p(16), 16);
        assert_eq!(p(usize::MAX), TableOptions::MAX_PARTITIONS);
        assert!(TableOptions::default().resolved_partitions().is_power_of_two());
        assert!(TableOptions::default().resolved_partitions() >= 16);
    }
}
