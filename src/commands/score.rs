//! `omen score`: offline scoring of a CSV file with the production scoring path.

use std::path::PathBuf;

use anyhow::Context as _;
use omen_scoring::{SeriesKind, score_series};

use super::Failure;

/// Arguments of `omen score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file with a header and `timestamp,value` rows (timestamp as `YYYY-MM-DD HH:MM:SS` or
    /// Unix seconds).
    pub csv: PathBuf,
    /// ONNX model meeting the model contract; the embedded model when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Score the per-second rate of a counter instead of the value.
    #[arg(long)]
    pub counter: bool,
}

/// Scores the file and prints `timestamp,value,score,expected,lower,upper` per row.
pub fn run(args: Args) -> Result<(), Failure> {
    let model = super::load_model(args.model.as_deref())?;
    let points = read_points(&args.csv).map_err(Failure::Usage)?;
    let kind = if args.counter {
        SeriesKind::Counter
    } else {
        SeriesKind::Gauge
    };
    let scored = score_series(&model, kind, &points).map_err(|e| Failure::Runtime(e.into()))?;
    println!("timestamp_ms,value,score,expected,lower,upper");
    for ((timestamp, value), scored) in points.iter().zip(scored) {
        match scored {
            Some(s) => println!(
                "{timestamp},{value},{:.6},{:.6},{:.6},{:.6}",
                s.score, s.expected, s.lower, s.upper
            ),
            None => println!("{timestamp},{value},,,,"),
        }
    }
    Ok(())
}

/// Reads a CSV file with a header and `timestamp,value` rows.
pub(super) fn read_points(path: &std::path::Path) -> anyhow::Result<Vec<(i64, f64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut points = Vec::new();
    for (line_no, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}, line {}", path.display(), line_no + 1);
        let (ts, value) = line
            .split_once(',')
            .with_context(|| format!("{}: expected `timestamp,value`", at()))?;
        let timestamp = parse_timestamp(ts.trim())
            .with_context(|| format!("{}: bad timestamp `{ts}`", at()))?;
        let value: f64 = value
            .trim()
            .parse()
            .with_context(|| format!("{}: bad value `{value}`", at()))?;
        points.push((timestamp, value));
    }
    Ok(points)
}

/// Parses Unix seconds or `YYYY-MM-DD HH:MM:SS` (UTC) into milliseconds.
pub(super) fn parse_timestamp(text: &str) -> anyhow::Result<i64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok((seconds * 1000.0) as i64);
    }
    let (date, time) = text
        .split_once([' ', 'T'])
        .context("expected date and time")?;
    let mut d = date.split('-').map(str::parse::<i64>);
    let mut t = time.trim_end_matches('Z').split(':').map(str::parse::<f64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(day))) = (d.next(), d.next(), d.next()) else {
        anyhow::bail!("expected YYYY-MM-DD");
    };
    let (Some(Ok(hh)), Some(Ok(mm))) = (t.next(), t.next()) else {
        anyhow::bail!("expected HH:MM[:SS]");
    };
    let ss = t.next().transpose()?.unwrap_or(0.0);
    // Days from civil date (proleptic Gregorian), after Howard Hinnant's well-known algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400_000 + ((hh * 3600.0 + mm * 60.0 + ss) * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn timestamps_parse_in_both_forms() {
        assert_eq!(parse_timestamp("0").ok(), Some(0));
        assert_eq!(
            parse_timestamp("2014-04-10 00:02:00").ok(),
            Some(1_397_088_120_000)
        );
        assert_eq!(
            parse_timestamp("1970-01-02T00:00:00Z").ok(),
            Some(86_400_000)
        );
        assert!(parse_timestamp("yesterday").is_err());
    }
}
