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
    pub fn of(window: &[f64], scratch: &mut Vec<f64>) -> Self {
        scratch.clear();
        scratch.extend_from_slice(window);
        let location = median_in_place(scratch);
        for value in scratch.iter_mut() {
            *value = (*value - location).abs();
        }
        let mean_abs = scratch.iter().sum::<f64>() / scratch.len() as f64;
        let mad = median_in_place(scratch);
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

/// Median with numpy's convention (mean of the two middle values for even lengths); reorders `values`.
fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    debug_assert!(n > 0);
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
