//! `ferrets_table_options_t`: how a new table is laid out.

use ferrets_core::TableOptions;

use crate::guard::Error;
use crate::status::ferrets_status_t::FERRETS_ERR_INVALID_ARGUMENT;

/// The largest partition count `ferrets_table_options_t.partitions` accepts.
pub const FERRETS_TABLE_MAX_PARTITIONS: usize = 65536;

/// The largest initial capacity `ferrets_table_options_t.capacity` accepts.
pub const FERRETS_TABLE_MAX_CAPACITY: usize = 1073741824;

/// Options for a new table (`ferrets_table_new_with`,
/// `ferrets_table_create_named`). Start from
/// `ferrets_table_options_default()` and change the fields you need; an
/// all-zero struct means the same defaults. A plain value owned by the
/// caller: the library only reads it during the call.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ferrets_table_options_t {
    /// Number of partitions, rounded up to a power of two; 0 picks a default
    /// from the number of CPUs. At most `FERRETS_TABLE_MAX_PARTITIONS`.
    pub partitions: usize,
    /// Entries to reserve room for up front (0: start small and grow). At
    /// most `FERRETS_TABLE_MAX_CAPACITY`; the room is allocated at once, and,
    /// as with any allocation in the library, running out of memory aborts
    /// the process.
    pub capacity: usize,
}

impl ferrets_table_options_t {
    /// The core options, or an invalid-argument error naming the bad field.
    pub(crate) fn to_core(self) -> Result<TableOptions, Error> {
        if self.partitions > FERRETS_TABLE_MAX_PARTITIONS {
            return Err(Error::new(
                FERRETS_ERR_INVALID_ARGUMENT,
                format!(
                    "options.partitions is {}, more than FERRETS_TABLE_MAX_PARTITIONS ({FERRETS_TABLE_MAX_PARTITIONS})",
                    self.partitions
                ),
            ));
        }
        if self.capacity > FERRETS_TABLE_MAX_CAPACITY {
            return Err(Error::new(
                FERRETS_ERR_INVALID_ARGUMENT,
                format!(
                    "options.capacity is {}, more than FERRETS_TABLE_MAX_CAPACITY ({FERRETS_TABLE_MAX_CAPACITY})",
                    self.capacity
                ),
            ));
        }
        let partitions = (self.partitions != 0).then_some(self.partitions);
        Ok(TableOptions { partitions, capacity: self.capacity })
    }
}

/// The default options: every field 0 (default partition count, no reserved
/// capacity). Returns a plain value; thread-safe.
#[no_mangle]
pub extern "C" fn ferrets_table_options_default() -> ferrets_table_options_t {
    ferrets_table_options_t::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_fields() {
        assert_eq!(FERRETS_TABLE_MAX_PARTITIONS, TableOptions::MAX_PARTITIONS);
        let ok = ferrets_table_options_t { partitions: 3, capacity: 10 }.to_core().ok().unwrap();
        assert_eq!(ok, TableOptions { partitions: Some(3), capacity: 10 });
        assert_eq!(ferrets_table_options_default().to_core().ok().unwrap(), TableOptions::default());
        let too_many = ferrets_table_options_t { partitions: FERRETS_TABLE_MAX_PARTITIONS + 1, capacity: 0 };
        assert!(too_many.to_core().is_err());
        let too_big = ferrets_table_options_t { partitions: 0, capacity: usize::MAX };
        assert!(too_big.to_core().is_err());
    }
}
