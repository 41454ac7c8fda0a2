//! [`Word`]: the types a [`crate::WordTable`] stores inline, as 64-bit words.

/// A `Copy` type that round-trips through a 64-bit word.
///
/// A [`crate::WordTable`] stores keys and values as their bits and compares
/// keys by their bits: for floats that means `0.0` and `-0.0` are different
/// keys and a NaN key finds itself (only with the same payload).
pub trait Word: Copy + Send + Sync + 'static {
    /// The value as a word.
    fn to_bits(self) -> u64;
    /// The value whose [`Word::to_bits`] gave `bits`.
    fn from_bits(bits: u64) -> Self;
}

macro_rules! int_word {
    ($($t:ty => $u:ty),*) => {$(
        impl Word for $t {
            #[inline]
            fn to_bits(self) -> u64 {
                // Sign-extension is irrelevant: `from_bits` truncates back.
                self as $u as u64
            }
            #[inline]
            fn from_bits(bits: u64) -> Self {
                bits as $u as $t
            }
        }
    )*};
}

int_word!(u64 => u64, i64 => u64, usize => usize, isize => usize, u32 => u32, i32 => u32,
    u16 => u16, i16 => u16, u8 => u8, i8 => u8);

impl Word for bool {
    #[inline]
    fn to_bits(self) -> u64 {
        self as u64
    }
    #[inline]
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

impl Word for char {
    #[inline]
    fn to_bits(self) -> u64 {
        self as u64
    }
    /// Bits that are no `char` (never produced by `to_bits`) give U+FFFD.
    #[inline]
    fn from_bits(bits: u64) -> Self {
        u32::try_from(bits).ok().and_then(char::from_u32).unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

impl Word for f64 {
    #[inline]
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    #[inline]
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl Word for f32 {
    #[inline]
    fn to_bits(self) -> u64 {
        f32::to_bits(self) as u64
    }
    #[inline]
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::Word;

    fn round<T: Word + PartialEq + std::fmt::Debug>(xs: &[T]) {
        for &x in xs {
            assert_eq!(T::from_bits(x.to_bits()), x);
        }
    }

    #[test]
    fn words_round_trip() {
        round(&[0u64, 1, u64::MAX]);
        round(&[i64::MIN, -1, 0, i64::MAX]);
        round(&[i32::MIN, -1, 7]);
        round(&[i8::MIN, -1, 7]);
        round(&[usize::MAX, 3]);
        round(&[isize::MIN, -3]);
        round(&[true, false]);
        round(&['a', '\u{10FFFF}']);
        round(&[1.5f64, -0.0, f64::INFINITY]);
        round(&[1.5f32, -2.0]);
        assert_ne!(0.0f64.to_bits(), (-0.0f64).to_bits());
        assert_eq!(char::from_bits(0xD800), char::REPLACEMENT_CHARACTER);
        // Narrow signed values do not leak sign bits into the word.
        assert_eq!((-1i8).to_bits(), 0xff);
    }
}
