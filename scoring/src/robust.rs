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
    /// Bit for bit what selecting with `f64::total_cmp` gives (see the reference in the tests),
    /// but each comparison is a single integer comparison: the values are selected as their
    /// total-order keys, which compare as integers exactly as `total_cmp` compares the values,
    /// so the selection makes the same moves and leaves the values in the same order (which the
    /// sum of deviations depends on).
    pub fn of(window: &[f64], scratch: &mut Vec<f64>) -> Self {
        scratch.clear();
        scratch.extend(window.iter().map(|&v| f64::from_bits(total_order_key(v))));
        let location = median_in_place(scratch, |key| f64::from_bits(total_order_key(key)));
        for value in scratch.iter_mut() {
            // The keys back to values (the mapping is its own inverse), then the deviations.
            *value = (f64::from_bits(total_order_key(*value)) - location).abs();
        }
        let mean_abs = scratch.iter().sum::<f64>() / scratch.len() as f64;
        // Deviations have no sign bit, so they are their own keys.
        let mad = median_in_place(scratch, |v| v);
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

    /// `Normaliser::of` as it was before selecting by integer keys (the reference).
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
        let mean_abs = scratch.iter().sum::<f64>() / scratch.len() as f64;
        let mad = median(&mut scratch);
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
