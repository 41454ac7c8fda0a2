//! Control words shared by both tables' groups: one byte per lane, `0`
//! while the lane was never claimed, `0x80 | tag` once claimed (never back),
//! matched a word at a time, SwissTable-style.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bits of the control bytes of a `W`-lane group.
#[inline(always)]
const fn lanes<const W: usize>() -> u64 {
    HI & (u64::MAX >> (64 - 8 * W))
}

/// The top `bits` bits of `x` (`bits` < 64; 0 gives 0), with two plain
/// shifts: the `u128` form `((x as u128) << bits) >> 64` compiles to a
/// branchy double-word shift on every lookup.
#[inline(always)]
pub(crate) fn top_bits(x: u64, bits: u32) -> usize {
    debug_assert!(bits < 64);
    ((x >> 1) >> (63 - bits)) as usize
}

/// The control byte of a hash: never 0.
#[inline]
pub(crate) fn tag_of(hash: u64) -> u8 {
    0x80 | (hash as u8 & 0x7f)
}

/// Lanes whose control byte equals `tag` (exact, no false positives).
#[inline]
pub(crate) fn match_tag<const W: usize>(ctrl: u64, tag: u8) -> BitMask {
    let x = ctrl ^ (LO * tag as u64);
    // High bit set for every non-zero byte of `x`, without carries between bytes.
    let nonzero = ((x & !HI).wrapping_add(!HI)) | x;
    BitMask(!nonzero & lanes::<W>())
}

/// Lanes never claimed (control byte 0).
#[inline]
pub(crate) fn match_empty<const W: usize>(ctrl: u64) -> BitMask {
    BitMask(!ctrl & lanes::<W>())
}

/// The control word with lane `i` set to `tag`.
#[inline]
pub(crate) fn with_tag(ctrl: u64, i: usize, tag: u8) -> u64 {
    ctrl | (tag as u64) << (8 * i)
}

/// A set of lanes, iterated from the lowest.
#[derive(Clone, Copy)]
pub(crate) struct BitMask(u64);

impl BitMask {
    /// Whether no lane is set.
    #[inline]
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest lane set.
    #[inline]
    pub(crate) fn lowest(self) -> Option<usize> {
        (self.0 != 0).then(|| self.0.trailing_zeros() as usize / 8)
    }

    /// The union of two sets.
    #[inline]
    pub(crate) fn or(self, other: BitMask) -> BitMask {
        BitMask(self.0 | other.0)
    }
}

impl Iterator for BitMask {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let i = self.lowest()?;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn top_bits_is_the_double_word_shift() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_000 {
            x = x.rotate_left(17).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ 0x94d0_49bb;
            for bits in 0..64 {
                assert_eq!(top_bits(x, bits), (((x as u128) << bits) >> 64) as usize, "{x:#x} {bits}");
            }
        }
        assert_eq!(top_bits(u64::MAX, 0), 0);
        assert_eq!(top_bits(u64::MAX, 63), (1 << 63) - 1);
    }

    use super::*;

    #[test]
    fn masks_are_exact() {
        let t = tag_of(0x1234);
        let mut ctrl = 0u64;
        assert_eq!(match_empty::<7>(ctrl).count(), 7);
        assert_eq!(match_tag::<7>(ctrl, t).count(), 0);
        ctrl = with_tag(ctrl, 1, t);
        ctrl = with_tag(ctrl, 0, t ^ 1);
        assert_eq!(match_tag::<7>(ctrl, t).collect::<Vec<_>>(), vec![1]);
        assert_eq!(match_tag::<7>(ctrl, t ^ 1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(match_empty::<5>(ctrl).lowest(), Some(2));
        // Bytes past the last lane never count as empty or matching.
        assert_eq!(match_empty::<2>(ctrl).count(), 0);
        assert_eq!(match_tag::<5>(with_tag(0, 6, t), t).count(), 0);
    }
}
