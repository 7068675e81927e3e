//! Robust window statistics: median and median absolute deviation, as numpy computes them.

/// Consistency constant that makes the MAD estimate the standard deviation of normal data.
const MAD_TO_SIGMA: f64 = 1.4826;
/// Consistency constant that makes the mean absolute deviation estimate it (sqrt(pi/2)).
const MEAN_ABS_TO_SIGMA: f64 = 1.2533;

/// Location and scale of a window, used to normalise it and the value scored against it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normaliser {
    /// Median of the window.
    pub location: f64,
    /// `max(1.4826 * MAD, 1.2533 * mean |x - median|, 1e-3 * |median|, 1e-9)`: the mean absolute
    /// deviation keeps mostly-constant windows (MAD 0, a few other values) from getting a tiny scale.
    pub scale: f64,
}

impl Normaliser {
    /// Computes the statistics of `window`; `scratch` is reused to avoid allocating.
    ///
    /// Bit for bit what selecting with `f64::total_cmp` gives (see the reference in the tests).
    /// Values are ordered by their total-order keys, which compare as integers exactly as
    /// `total_cmp` compares the values. Windows of up to 32 values (the default model's) are
    /// sorted by a sorting network, which has no data-dependent branches; longer ones, and
    /// windows whose median is not finite, take two selections.
    pub fn of(window: &[f64], scratch: &mut Vec<f64>) -> Self {
        let statistics = if window.len() <= NETWORK_INPUTS {
            small_window_statistics(window)
        } else {
            None
        };
        let (location, mad) = statistics.unwrap_or_else(|| selected_statistics(window, scratch));
        let mean_abs =
            window.iter().map(|&v| (v - location).abs()).sum::<f64>() / window.len() as f64;
        let scale = (MAD_TO_SIGMA * mad)
            .max(MEAN_ABS_TO_SIGMA * mean_abs)
            .max(1e-3 * location.abs())
            .max(1e-9);
        Self { location, scale }
    }

    /// Maps a raw value to normalised units.
    pub fn normalise(&self, value: f64) -> f64 {
        (value - self.location) / self.scale
    }

    /// Maps a normalised value back to raw units.
    pub fn denormalise(&self, z: f64) -> f64 {
        self.location + self.scale * z
    }
}

/// The bits of `value` rearranged so that, compared as `i64`, they order as `f64::total_cmp`
/// orders the values (the transformation `total_cmp` applies); applied twice it gives the bits back.
fn total_order_key(value: f64) -> u64 {
    let bits = value.to_bits();
    bits ^ ((((bits as i64) >> 63) as u64) >> 1)
}

/// The value of a total-order key given as its bits (the mapping is its own inverse).
fn key_value(key: u64) -> f64 {
    f64::from_bits(total_order_key(f64::from_bits(key)))
}

/// Median and MAD by two selections of total-order keys in `scratch`.
fn selected_statistics(window: &[f64], scratch: &mut Vec<f64>) -> (f64, f64) {
    scratch.clear();
    scratch.extend(window.iter().map(|&v| f64::from_bits(total_order_key(v))));
    let location = median_in_place(scratch, |key| key_value(key.to_bits()));
    for value in scratch.iter_mut() {
        // The keys back to values, then the deviations.
        *value = (key_value(value.to_bits()) - location).abs();
    }
    // Deviations have no sign bit, so they are their own keys.
    (location, median_in_place(scratch, |v| v))
}

/// Most values [`small_window_statistics`] takes.
const NETWORK_INPUTS: usize = 32;

/// Median and MAD of at most [`NETWORK_INPUTS`] values through the sorting network, or `None`
/// when the median is not finite (the deviations are then not ordered as the merge assumes).
fn small_window_statistics(window: &[f64]) -> Option<(f64, f64)> {
    let n = window.len();
    debug_assert!(n > 0 && n <= NETWORK_INPUTS);
    // Padding with the largest key leaves the values in the first n places.
    let mut keys = [i64::MAX; NETWORK_INPUTS];
    for (key, &value) in keys.iter_mut().zip(window) {
        *key = total_order_key(value) as i64;
    }
    sort_32(&mut keys);
    let value = |i: usize| key_value(keys[i] as u64);
    let mid = n / 2;
    let location = if n % 2 == 1 {
        value(mid)
    } else {
        (value(mid - 1) + value(mid)) / 2.0
    };
    if !location.is_finite() {
        return None;
    }
    // The deviations of the values below the middle grow going down from it, those from the
    // middle up grow going up: merging the two ascending runs gives the deviations in order.
    // Deviations have no sign bit, so their bits order them; u64::MAX ends each run.
    let mut below = [u64::MAX; NETWORK_INPUTS + 1];
    let mut above = [u64::MAX; NETWORK_INPUTS + 1];
    for (i, slot) in below.iter_mut().take(mid).enumerate() {
        *slot = (value(mid - 1 - i) - location).abs().to_bits();
    }
    for (j, slot) in above.iter_mut().take(n - mid).enumerate() {
        *slot = (value(mid + j) - location).abs().to_bits();
    }
    let (mut b, mut a) = (0, 0);
    let (mut previous, mut current) = (0u64, 0u64);
    for _ in 0..=mid {
        previous = current;
        let (low, high) = (below[b], above[a]);
        let take_below = low <= high;
        current = if take_below { low } else { high };
        b += usize::from(take_below);
        a += usize::from(!take_below);
    }
    let mad = if n % 2 == 1 {
        f64::from_bits(current)
    } else {
        (f64::from_bits(previous) + f64::from_bits(current)) / 2.0
    };
    Some((location, mad))
}

/// Defines the comparator list `$pairs` and the function `$sort` that applies it, in order, to
/// 32 keys: each comparator puts the smaller key of its two places first.
macro_rules! sorting_network {
    ($sort:ident, $pairs:ident; $($i:literal $j:literal),* $(,)?) => {
        /// The comparators of [`sort_32`], in order.
        #[cfg(test)]
        const $pairs: &[(usize, usize)] = &[$(($i, $j)),*];

        /// Sorts 32 keys ascending.
        fn $sort(keys: &mut [i64; NETWORK_INPUTS]) {
            $(
                let (low, high) = (keys[$i], keys[$j]);
                keys[$i] = low.min(high);
                keys[$j] = low.max(high);
            )*
        }
    };
}

// Batcher's odd-even merge sort for 32 inputs (191 comparators); the tests check the list
// against Batcher's construction and that it sorts.
sorting_network!(sort_32, SORT_32_PAIRS;
    0 1, 2 3, 4 5, 6 7, 8 9, 10 11, 12 13, 14 15, 16 17, 18 19, 20 21, 22 23, 24 25, 26 27,
    28 29, 30 31, 0 2, 1 3, 4 6, 5 7, 8 10, 9 11, 12 14, 13 15, 16 18, 17 19, 20 22, 21 23,
    24 26, 25 27, 28 30, 29 31, 1 2, 5 6, 9 10, 13 14, 17 18, 21 22, 25 26, 29 30, 0 4, 1 5,
    2 6, 3 7, 8 12, 9 13, 10 14, 11 15, 16 20, 17 21, 18 22, 19 23, 24 28, 25 29, 26 30, 27 31,
    2 4, 3 5, 10 12, 11 13, 18 20, 19 21, 26 28, 27 29, 1 2, 3 4, 5 6, 9 10, 11 12, 13 14,
    17 18, 19 20, 21 22, 25 26, 27 28, 29 30, 0 8, 1 9, 2 10, 3 11, 4 12, 5 13, 6 14, 7 15,
    16 24, 17 25, 18 26, 19 27, 20 28, 21 29, 22 30, 23 31, 4 8, 5 9, 6 10, 7 11, 20 24, 21 25,
    22 26, 23 27, 2 4, 3 5, 6 8, 7 9, 10 12, 11 13, 18 20, 19 21, 22 24, 23 25, 26 28, 27 29,
    1 2, 3 4, 5 6, 7 8, 9 10, 11 12, 13 14, 17 18, 19 20, 21 22, 23 24, 25 26, 27 28, 29 30,
    0 16, 1 17, 2 18, 3 19, 4 20, 5 21, 6 22, 7 23, 8 24, 9 25, 10 26, 11 27, 12 28, 13 29,
    14 30, 15 31, 8 16, 9 17, 10 18, 11 19, 12 20, 13 21, 14 22, 15 23, 4 8, 5 9, 6 10, 7 11,
    12 16, 13 17, 14 18, 15 19, 20 24, 21 25, 22 26, 23 27, 2 4, 3 5, 6 8, 7 9, 10 12, 11 13,
    14 16, 15 17, 18 20, 19 21, 22 24, 23 25, 26 28, 27 29, 1 2, 3 4, 5 6, 7 8, 9 10, 11 12,
    13 14, 15 16, 17 18, 19 20, 21 22, 23 24, 25 26, 27 28, 29 30,
);

/// Median with numpy's convention (mean of the two middle values for even lengths) of `keys`
/// (total-order keys held as `f64` bits, compared as `i64`), `value` giving a key's value;
/// reorders `keys`.
fn median_in_place(keys: &mut [f64], value: impl Fn(f64) -> f64) -> f64 {
    let n = keys.len();
    debug_assert!(n > 0);
    let mid = n / 2;
    let (lower, upper_middle, _) =
        keys.select_nth_unstable_by(mid, |a, b| (a.to_bits() as i64).cmp(&(b.to_bits() as i64)));
    let upper_middle = value(*upper_middle);
    if n % 2 == 1 {
        upper_middle
    } else {
        let lower_middle = lower
            .iter()
            .map(|&v| value(v))
            .fold(f64::NEG_INFINITY, f64::max);
        (lower_middle + upper_middle) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_matches_numpy_for_odd_and_even_lengths() {
        let mut scratch = Vec::new();
        let odd = Normaliser::of(&[5.0, 1.0, 3.0], &mut scratch);
        assert_eq!(odd.location, 3.0);
        let even = Normaliser::of(&[4.0, 1.0, 3.0, 2.0], &mut scratch);
        assert_eq!(even.location, 2.5);
        // |x - 2.5| = 1.5, 1.5, 0.5, 0.5 -> MAD 1.0 (mean 1.0 too; 1.4826 > 1.2533)
        assert!((even.scale - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn flat_window_gets_a_relative_scale_floor() {
        let mut scratch = Vec::new();
        let flat = Normaliser::of(&[200.0; 8], &mut scratch);
        assert_eq!(flat.location, 200.0);
        assert!((flat.scale - 0.2).abs() < 1e-12);
        let zero = Normaliser::of(&[0.0; 8], &mut scratch);
        assert_eq!(zero.scale, 1e-9);
    }

    #[test]
    fn mostly_constant_window_is_scaled_by_its_mean_absolute_deviation() {
        let mut scratch = Vec::new();
        let mut window = [0.0; 32];
        window[3] = 1.0;
        window[17] = 1.0;
        let n = Normaliser::of(&window, &mut scratch);
        assert_eq!((n.location, n.scale), (0.0, 1.2533 * 2.0 / 32.0));
    }

    /// `Normaliser::of` by selections with `f64::total_cmp` (the reference).
    fn reference(window: &[f64]) -> Normaliser {
        fn median(values: &mut [f64]) -> f64 {
            let n = values.len();
            let mid = n / 2;
            let (lower, upper_middle, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
            let upper_middle = *upper_middle;
            if n % 2 == 1 {
                upper_middle
            } else {
                let lower_middle = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (lower_middle + upper_middle) / 2.0
            }
        }
        let mut scratch = window.to_vec();
        let location = median(&mut scratch);
        for value in scratch.iter_mut() {
            *value = (*value - location).abs();
        }
        let mad = median(&mut scratch);
        // Summed in the window's order, as numpy's mean of |x - median| does.
        let mean_abs =
            window.iter().map(|&v| (v - location).abs()).sum::<f64>() / window.len() as f64;
        let scale = (MAD_TO_SIGMA * mad)
            .max(MEAN_ABS_TO_SIGMA * mean_abs)
            .max(1e-3 * location.abs())
            .max(1e-9);
        Normaliser { location, scale }
    }

    #[test]
    fn statistics_are_bit_for_bit_the_total_cmp_selection() {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            -5e-324,
            1e300,
            0.1,
            0.3,
        ];
        let mut state = 11u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 11
        };
        let mut scratch = Vec::new();
        for round in 0..20_000 {
            let len = 1 + next() as usize % 70;
            let window: Vec<f64> = (0..len)
                .map(|_| match (round % 4, next() % 8) {
                    // Mostly ordinary series, some with special values, some with many ties.
                    (0, 0) => special[next() as usize % special.len()],
                    (1, _) => (next() % 4) as f64,
                    (2, _) => f64::from_bits(next() << 11 ^ next()),
                    _ => 100.0 + (next() % 10_000) as f64 / 77.0 - 60.0,
                })
                .filter(|v| !v.is_nan())
                .collect();
            if window.is_empty() {
                continue;
            }
            let ours = Normaliser::of(&window, &mut scratch);
            let theirs = reference(&window);
            assert_eq!(
                (ours.location.to_bits(), ours.scale.to_bits()),
                (theirs.location.to_bits(), theirs.scale.to_bits()),
                "{window:?}"
            );
        }
    }

    /// Batcher's odd-even merge sort comparators for `n` (a power of two) inputs.
    fn batcher(n: usize) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        let mut p = 1;
        while p < n {
            let mut k = p;
            while k >= 1 {
                let mut j = k % p;
                while j + k < n {
                    for i in 0..k {
                        if (i + j) / (p * 2) == (i + j + k) / (p * 2) {
                            pairs.push((i + j, i + j + k));
                        }
                    }
                    j += 2 * k;
                }
                k /= 2;
            }
            p *= 2;
        }
        pairs
    }

    #[test]
    fn the_sorting_network_is_batchers_and_sorts() {
        assert_eq!(SORT_32_PAIRS, &batcher(NETWORK_INPUTS)[..]);
        let mut state = 3u64;
        for round in 0..10_000 {
            let mut keys = [0i64; NETWORK_INPUTS];
            for key in keys.iter_mut() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                // Some rounds with many ties, some over the whole range.
                *key = if round % 2 == 0 {
                    (state >> 60) as i64
                } else {
                    state as i64
                };
            }
            let mut expected = keys;
            expected.sort_unstable();
            sort_32(&mut keys);
            assert_eq!(keys, expected);
        }
    }

    #[test]
    fn normalise_round_trips() {
        let n = Normaliser {
            location: 10.0,
            scale: 2.0,
        };
        assert_eq!(n.normalise(14.0), 2.0);
        assert_eq!(n.denormalise(2.0), 14.0);
    }
}
